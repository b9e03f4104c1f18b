"""Case 8: bad inputs across the command line, configs, data files, checkpoints and
plugins. Each one stops the command with exit status 2 and exactly one line on stderr,
``error: ...``, that names the problem and the fix; never a traceback.

``BAD_INPUTS`` is the table. Every row runs through the command's entry point
(``framework.train.main``, Hydra included) in this process, which is fast; a sample of
rows, one or more per kind, also runs as ``python -m framework.train`` in a subprocess,
to check that what a user's terminal shows is the same single line.

Each row lists the substrings its line must hold: first what is wrong (the config key or
file, and the value), then what to do."""

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from framework.core.npz import load_npz
from framework.plugins import default_plugins

from .conftest import command, error_line

SMALL = ["data=blobs", "trainer.epochs=1", "callbacks.progress=null"]
QUIET = ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]


@dataclass(frozen=True)
class Bad:
    id: str
    kind: str  # command line, config, data file, checkpoint, plugin
    args: tuple[str, ...]
    expect: tuple[str, ...]
    env: dict = field(default_factory=dict)
    plugin: dict | None = None  # a fake installed distribution: make_distribution(**plugin)

    def argv(self, files: Path) -> list[str]:
        args = [arg.replace("{files}", str(files)) for arg in self.args]
        flags = [arg for arg in args if arg.startswith("--")]
        return [*flags, *SMALL, *[arg for arg in args if not arg.startswith("--")]]


BROKEN_IMPORT = "import missing_dependency_of_the_plugin\n"
DUPLICATE_NAME = """
from framework import hookimpl
from framework.core.optimizers import SGD

class MyAdam(SGD):
    name = "adam"

@hookimpl
def framework_register_optimizers():
    return [MyAdam]
"""
RAISING_REGISTRATION = """
from framework import hookimpl

@hookimpl
def framework_register_losses():
    raise ValueError("the loss table is corrupt")
"""
BLOCK_EXTRAS = {"FRAMEWORK_DISABLE_PLUGINS": "extras"}

BAD_INPUTS = [
    # -- the command line: types, ranges, unknown names and keys, group options, syntax ------
    Bad("lr-not-a-number", "command line", ("optimizer.lr=abc",), ("optimizer.lr='abc'", "lr must be a finite number")),
    Bad("lr-negative", "command line", ("optimizer.lr=-0.1",), ("optimizer.lr=-0.1", "lr must be in (0, inf]")),
    Bad(
        "epochs-not-int",
        "command line",
        ("trainer.epochs=abc",),
        ("trainer.epochs='abc'", "must be a positive integer"),
    ),
    Bad("batch-size-zero", "command line", ("trainer.batch_size=0",), ("trainer.batch_size=0", "must be a positive")),
    Bad("seed-negative", "command line", ("seed=-1",), ("seed=-1", "expected a non-negative integer")),
    Bad("val-fraction-out-of-range", "command line", ("data.val_fraction=1.5",), ("data.val_fraction=1.5", "[0, 1)")),
    Bad(
        "guard-factor-out-of-range",
        "command line",
        ("callbacks.nan_guard.max_loss_factor=0.5",),
        ("callbacks.nan_guard.max_loss_factor=0.5", "must be in (1, inf]"),
    ),
    Bad(
        "logger-flush-negative",
        "command line",
        ("logger=mlflow", "logger.flush_every_seconds=-1"),
        ("logger.flush_every_seconds=-1", "must be in [0, inf]"),
    ),
    Bad(
        "unknown-loss",
        "command line",
        ("loss.name=msee",),
        ("loss.name='msee': Unknown loss 'msee'", "Did you mean 'mse'?"),
    ),
    Bad(
        "unknown-callback",
        "command line",
        ("+callbacks.nosuch={}",),
        ("callbacks.nosuch.name='nosuch': Unknown callback 'nosuch'", "Available: checkpoint"),
    ),
    Bad(
        "unknown-argument",
        "command line",
        ("+optimizer.foo=1",),
        ("optimizer.foo: Adam (adam) takes no argument 'foo'", "it takes: lr, beta1"),
    ),
    Bad("unknown-key", "command line", ("optimizer.foo=1",), ("optimizer.foo: no such config key", "+optimizer.foo=")),
    Bad(
        "misspelled-key",
        "command line",
        ("trainer.epoch=3",),
        ("trainer.epoch: no such config key", "did you mean trainer.epochs?"),
    ),
    Bad(
        "misspelled-section",
        "command line",
        ("trainr.epochs=3",),
        ("trainr.epochs: no such", "did you mean trainer.epochs?"),
    ),
    Bad(
        "misspelled-new-section",
        "command line",
        ("+trainr.epochs=3",),
        ("trainr: no such config section, so its values would be ignored", "did you mean trainer?"),
    ),
    Bad(
        "name-given-a-list",
        "command line",
        ("optimizer.name=[adam,sgd]",),
        ("optimizer.name=['adam', 'sgd']: expected one optimizer name", "available: "),
    ),
    Bad(
        "name-given-null",
        "command line",
        ("loss.name=null",),
        ("loss.name=None: expected one loss name", "available: "),
    ),
    Bad(
        "unknown-group-option",
        "command line",
        ("optimizer=adm",),
        ("optimizer=adm: the config group 'optimizer' has no option 'adm'", "choose one of: ", "adam, adamw"),
    ),
    Bad(
        "unknown-experiment",
        "command line",
        ("+experiment=nosuch",),
        ("experiment=nosuch: the config group 'experiment' has no option 'nosuch'", "choose one of: blobs"),
    ),
    Bad(
        "malformed-override",
        "command line",
        ("optimizer.lr=[1,2",),
        ("cannot parse the override 'optimizer.lr=[1,2'", "close every bracket"),
    ),
    Bad(
        "group-given-a-number",
        "command line",
        ("trainer=5",),
        ("Config group override must be a string or a list. Got int", "check the overrides"),
    ),
    Bad(
        "bad-interpolation",
        "command line",
        ("optimizer.lr=${oops}",),
        ("optimizer.lr: Interpolation key 'oops' not found", "fix the ${...} interpolation"),
    ),
    Bad(
        "monitor-without-validation",
        "command line",
        ("data.val_fraction=0",),
        ("data.val_fraction=0 leaves no validation split", "set data.val_fraction above 0"),
    ),
    # -- configs ---------------------------------------------------------------------------
    Bad(
        "config-not-yaml",
        "config",
        ("--config-dir={files}/conf", "+experiment=not_yaml"),
        ("a config file does not parse as YAML", "not_yaml.yaml", "fix that file"),
    ),
    Bad(
        "config-unknown-model-type",
        "config",
        ("--config-dir={files}/conf", "+experiment=conv_model"),
        ("model.type='conv'", "expected 'mlp' (hidden sizes), 'cnn' (convolution blocks, then hidden sizes) or"),
    ),
    Bad(
        "config-text-learning-rate",
        "config",
        ("--config-dir={files}/conf", "+experiment=text_lr"),
        ("optimizer.lr='fast'", "lr must be a finite number"),
    ),
    Bad(
        "config-metrics-not-a-list",
        "config",
        ("--config-dir={files}/conf", "+experiment=metrics_text"),
        ("trainer.metrics='accuracy'", "expected 'auto' or a list of metric names"),
    ),
    Bad("config-missing-value", "config", ("data=npz",), ("data.path: a value is required", "(data.path=...)")),
    Bad(
        "config-unknown-name",
        "config",
        ("--config-name=nosuch",),
        ("Cannot find primary config 'nosuch'", "check the name (--config-name)"),
    ),
    Bad(
        "config-dir-missing",
        "config",
        ("--config-dir={files}/no_such_dir",),
        ("no_such_dir' not found", "give an existing directory to --config-dir"),
    ),
    # -- data files -------------------------------------------------------------------------
    Bad(
        "npz-missing",
        "data file",
        ("data=npz", "data.path={files}/missing.npz"),
        ("missing.npz: no such file", "check the path"),
    ),
    Bad(
        "npz-corrupt",
        "data file",
        ("data=npz", "data.path={files}/corrupt.npz"),
        ("corrupt.npz: truncated or corrupt .npz file", "restore it or use another copy"),
    ),
    Bad(
        "npz-bad-key",
        "data file",
        ("data=npz", "data.path={files}/good.npz", "data.x_key=features"),
        ("no array named 'features'; the file holds ['x', 'y']", "set x_key/y_key"),
    ),
    Bad(
        "npz-pickled-object-array",
        "data file",
        ("data=npz", "data.path={files}/pickled.npz"),
        ("pickled.npz: holds a pickled object array, which is refused", "save numeric (or string) arrays instead"),
    ),
    Bad(
        "npz-nan-input",
        "data file",
        ("data=npz", "data.path={files}/nan.npz"),
        ("nan.npz): x contains nan at index", "inputs must be finite (clean or impute the data first)"),
    ),
    Bad(
        "npz-labels-count",
        "data file",
        ("data=npz", "data.path={files}/mismatch.npz"),
        ("50 samples but 40 labels", "give one label per sample"),
    ),
    Bad(
        "npz-text-inputs",
        "data file",
        ("data=npz", "data.path={files}/text.npz"),
        ("x must be numeric, got dtype <U", "store the inputs as numbers"),
    ),
    Bad(
        "npz-fractional-labels",
        "data file",
        ("data=npz", "data.path={files}/fractional.npz"),
        ("is not a whole number", "use task='regression' for real-valued targets"),
    ),
    Bad(
        "csv-non-numeric-cell",
        "data file",
        ("data=csv", "data.path={files}/letters.csv"),
        ("letters.csv: line 3, column 'b': cell 'abc' is not a finite number", "every cell must be numeric"),
    ),
    Bad(
        "csv-ragged-line",
        "data file",
        ("data=csv", "data.path={files}/ragged.csv"),
        ("ragged.csv: line 3 has 2 cells but the table has 3 columns", "fix that line"),
    ),
    Bad(
        "csv-latin-1",
        "data file",
        ("data=csv", "data.path={files}/latin1.csv"),
        ("latin1.csv: not UTF-8 text (byte 0xe9", "save it as UTF-8"),
    ),
    Bad(
        "csv-binary",
        "data file",
        ("data=csv", "data.path={files}/binary.csv"),
        ("binary.csv: not UTF-8 text", "not a binary file"),
    ),
    Bad(
        "csv-a-directory",
        "data file",
        ("data=csv", "data.path={files}/idx"),
        ("idx: a directory, not a CSV file", "give the path of the file itself"),
    ),
    Bad(
        "npz-scalar-array",
        "data file",
        ("data=npz", "data.path={files}/scalar.npz"),
        ("scalar.npz: array 'x' is a single value (shape ())", "first axis counts them"),
    ),
    Bad(
        "csv-empty",
        "data file",
        ("data=csv", "data.path={files}/empty.csv"),
        ("empty.csv: no data rows", "must hold at least one row of numbers"),
    ),
    Bad(
        "csv-unknown-label-column",
        "data file",
        ("data=csv", "data.path={files}/good.csv", "data.label_column=target"),
        ("label_column='target' is not a column", "the columns are ['a', 'b', 'label']"),
    ),
    Bad(
        "idx-wrong-magic",
        "data file",
        ("data=mnist", "data.path={files}/idx", "data.download=false", "data.verify_checksum=false"),
        ("train-images-idx3-ubyte.gz: bad magic number 0x3c68746d", "delete it and download it again"),
    ),
    Bad(
        "idx-missing",
        "data file",
        ("data=mnist", "data.path={files}/no_idx", "data.download=false"),
        ("mnist: 4 of 4 files are missing", "Put these files in"),
    ),
    # -- checkpoints -----------------------------------------------------------------------
    Bad(
        "checkpoint-missing",
        "checkpoint",
        ("trainer.resume={files}/nowhere.npz",),
        ("trainer.resume:", "nowhere.npz: no such file", "check the path"),
    ),
    Bad(
        "checkpoint-truncated",
        "checkpoint",
        ("trainer.resume={files}/truncated.npz",),
        ("truncated.npz: truncated or corrupt .npz file", "restore it or use another copy"),
    ),
    Bad(
        "checkpoint-not-a-checkpoint",
        "checkpoint",
        ("trainer.resume={files}/weights.npz",),
        ("weights.npz: not a framework checkpoint", "resume from one the checkpoint callback wrote"),
    ),
    Bad(
        "checkpoint-future-format",
        "checkpoint",
        ("trainer.resume={files}/future.npz",),
        ("unsupported checkpoint format 'framework-checkpoint' version 99", "resume it with the framework version"),
    ),
    Bad(
        "checkpoint-pickled-object-array",
        "checkpoint",
        ("trainer.resume={files}/pickled_checkpoint.npz",),
        ("holds a pickled object array, which is refused", "save numeric (or string) arrays instead"),
    ),
    Bad(
        "checkpoint-wrong-architecture",
        "checkpoint",
        ("trainer.resume={files}/last.npz", "model.hidden=[16]", "trainer.epochs=6"),  # more than its 5 done
        ("the checkpoint does not fit this model", "model.hidden=[64, 32] (this run: [16])", "resume with the same"),
    ),
    Bad(
        "checkpoint-other-optimizer",
        "checkpoint",
        ("trainer.resume={files}/last.npz", "optimizer=sgd"),
        ("trained with optimizer=adam, this run has optimizer=sgd", "resume with optimizer=adam"),
    ),
    Bad(
        "checkpoint-blocked-plugin-component",
        "checkpoint",
        ("trainer.resume={files}/lion.npz",),
        ("trained with optimizer 'lion' (optimizer) from framework-extras", "install or unblock the plugin"),
        env=BLOCK_EXTRAS,
    ),
    Bad(
        "checkpoint-uninstalled-plugin-component",
        "checkpoint",
        ("trainer.resume={files}/with_marker.npz", "+callbacks.marker={directory: .}"),
        (
            "callback 'marker' (callbacks.marker) from reliability-testkit 0.0.1",
            "is reliability-testkit installed?",
            "leave callbacks.marker out of this run",
        ),
    ),
    # -- plugins --------------------------------------------------------------------------
    Bad(
        "plugin-broken-import",
        "plugin",
        (),
        ('Error importing plugin "broken"', "ModuleNotFoundError", "block it: FRAMEWORK_DISABLE_PLUGINS=broken"),
        plugin={"source": BROKEN_IMPORT, "entry_point": "broken", "name": "broken-dist", "version": "0.1"},
    ),
    Bad(
        "plugin-duplicate-name",
        "plugin",
        (),
        ("optimizer name 'adam' is registered twice", "uninstall or block one of them"),
        plugin={"source": DUPLICATE_NAME, "entry_point": "twin", "name": "twin-dist", "version": "2.0"},
    ),
    Bad(
        "plugin-registration-raises",
        "plugin",
        (),
        (
            "plugin 'lossy' (lossy-dist 1.0) failed in framework_register_losses: ValueError",
            "FRAMEWORK_DISABLE_PLUGINS=lossy",
        ),
        plugin={"source": RAISING_REGISTRATION, "entry_point": "lossy", "name": "lossy-dist", "version": "1.0"},
    ),
    Bad(
        "plugin-blocked-option",
        "plugin",
        ("optimizer=lion",),
        ("optimizer=lion: the config group 'optimizer' has no option 'lion'", "FRAMEWORK_DISABLE_PLUGINS=extras"),
        env=BLOCK_EXTRAS,
    ),
    Bad(
        "plugin-blocked-name",
        "plugin",
        ("optimizer.name=lion",),
        ("Unknown optimizer 'lion'", "blocked by FRAMEWORK_DISABLE_PLUGINS=extras"),
        env=BLOCK_EXTRAS,
    ),
    Bad(
        "plugin-blocked-callback",
        "plugin",
        ("+callbacks.timer={}",),
        ("Unknown callback 'timer'", "blocked by FRAMEWORK_DISABLE_PLUGINS=extras"),
        env=BLOCK_EXTRAS,
    ),
]

#: Rows that also run as a real ``python -m framework.train`` subprocess.
IN_A_TERMINAL = [
    "epochs-not-int",
    "unknown-group-option",
    "malformed-override",
    "config-not-yaml",
    "npz-corrupt",
    "csv-non-numeric-cell",
    "checkpoint-truncated",
    "checkpoint-blocked-plugin-component",
    "plugin-broken-import",
]


def test_the_table_covers_at_least_30_bad_inputs_of_every_kind():
    assert len(BAD_INPUTS) >= 30
    assert len({case.id for case in BAD_INPUTS}) == len(BAD_INPUTS)
    kinds = {case.kind for case in BAD_INPUTS}
    assert kinds == {"command line", "config", "data file", "checkpoint", "plugin"}
    assert {case.kind for case in BAD_INPUTS if case.id in IN_A_TERMINAL} == kinds


# -- the files the rows point at ----------------------------------------------------------------


def _write_bad_tables(directory: Path) -> None:
    (directory / "good.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    (directory / "letters.csv").write_text("a,b,label\n1,2,0\n3,abc,1\n")
    (directory / "ragged.csv").write_text("a,b,label\n1,2,0\n3,1\n")
    (directory / "empty.csv").write_text("")
    (directory / "latin1.csv").write_bytes(b"a,b,label\n1,2,0\n" + "caf\xe9,1,0\n".encode("latin-1"))
    (directory / "binary.csv").write_bytes(bytes(range(256)) * 4)
    np.savez(directory / "scalar.npz", x=np.array(5.0), y=np.array(1))


@pytest.fixture(scope="session")
def files(tmp_path_factory, reference) -> Path:
    directory = tmp_path_factory.mktemp("bad-inputs")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 3)), np.arange(50) % 3
    np.savez(directory / "good.npz", x=x, y=y)
    (directory / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip archive")
    np.savez(directory / "pickled.npz", x=np.array([{"a": 1}] * 50, dtype=object), y=y)
    with_nan = x.copy()
    with_nan[3, 1] = np.nan
    np.savez(directory / "nan.npz", x=with_nan, y=y)
    np.savez(directory / "mismatch.npz", x=x, y=y[:40])
    np.savez(directory / "text.npz", x=np.array([["a", "b", "c"]] * 50), y=y)
    np.savez(directory / "fractional.npz", x=x, y=rng.uniform(size=50))
    _write_bad_tables(directory)
    (directory / "idx").mkdir()
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (directory / "idx" / f"{name}.gz").write_bytes(b"<html>404 not found</html>")  # an error page saved
    (directory / "no_idx").mkdir()

    conf = directory / "conf" / "experiment"
    conf.mkdir(parents=True)
    (conf / "not_yaml.yaml").write_text("# @package _global_\ntrainer:\n  epochs: [1\n")
    (conf / "conv_model.yaml").write_text("# @package _global_\nmodel:\n  type: conv\n")
    (conf / "text_lr.yaml").write_text("# @package _global_\noptimizer:\n  lr: fast\n")
    (conf / "metrics_text.yaml").write_text("# @package _global_\ntrainer:\n  metrics: accuracy\n")

    last = reference / "checkpoints" / "last.npz"
    data = last.read_bytes()
    (directory / "last.npz").write_bytes(data)
    (directory / "truncated.npz").write_bytes(data[: len(data) // 2])
    (directory / "weights.npz").write_bytes((reference / "weights.npz").read_bytes())
    arrays = load_npz(last)
    manifest = json.loads(str(arrays["manifest"]))

    def variant(name, **changes):
        changed = {**manifest, **changes}
        np.savez(directory / name, **{**arrays, "manifest": np.array(json.dumps(changed))})

    variant("future.npz", format_version=99)
    lion = {"kind": "optimizer", "name": "lion", "distribution": "framework-extras", "version": "0.1.0"}
    variant(
        "lion.npz",
        components={**manifest["components"], "optimizer": lion},
        config={**manifest["config"], "optimizer": {"name": "lion", "lr": 0.0001}},
    )
    marker = {"kind": "callback", "name": "marker", "distribution": "reliability-testkit", "version": "0.0.1"}
    variant("with_marker.npz", components={**manifest["components"], "callbacks.marker": marker})
    np.savez(
        directory / "pickled_checkpoint.npz",
        **{**arrays, "callbacks/checkpoint/extra": np.array([object(), object()], dtype=object)},
    )
    return directory


# -- running a row ------------------------------------------------------------------------------


def _in_process(case: Bad, files: Path, run_dir: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    """The command's entry point, as ``python -m framework.train`` calls it."""
    from framework.command.entry import main

    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "argv", ["framework.train", *case.argv(files), f"hydra.run.dir={run_dir}", *QUIET])
    default_plugins.cache_clear()  # the plugins as this row's environment makes them
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code
    finally:
        default_plugins.cache_clear()
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.id for case in BAD_INPUTS])
def test_a_bad_input_is_one_line_naming_the_problem_and_the_fix(
    case, files, tmp_path, monkeypatch, capsys, make_distribution
):
    if case.plugin:
        make_distribution(case.plugin["source"], **{k: v for k, v in case.plugin.items() if k != "source"})
    code, out, err = _in_process(case, files, tmp_path / "run", monkeypatch, capsys)
    assert code == 2, err
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for expected in case.expect:
        assert expected in lines[0], f"{expected!r} not in {lines[0]!r}"
    assert not (tmp_path / "run" / "weights.npz").exists()  # no run finished
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.slow
def test_in_a_terminal_each_kind_prints_the_same_single_line(files, tmp_path, make_distribution):
    """A sample of rows as real subprocesses (four at a time): exit status 2, one line on
    stderr, the same substrings, no traceback."""
    cases = [case for case in BAD_INPUTS if case.id in IN_A_TERMINAL]

    def run(case):
        sites = []
        if case.plugin:
            dist = make_distribution(case.plugin["source"], **{k: v for k, v in case.plugin.items() if k != "source"})
            sites.append(dist.site)
        run_dir = tmp_path / case.id
        return case, command(*case.argv(files), f"hydra.run.dir={run_dir}", cwd=tmp_path, sites=sites, env=case.env)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, cases))
    for case, result in results:
        assert result.returncode == 2, (case.id, result.stderr)
        line = error_line(result)
        for expected in case.expect:
            assert expected in line, (case.id, expected, line)
