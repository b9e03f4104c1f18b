"""The parts of ``rerun`` and ``diff`` that need no store: the config a re-run starts from, the
secrets it must be given, the version warnings, and the diff's table (its width, its marks,
a long list of differences cut to the screen, a store that stops answering while a run is read)."""

from types import SimpleNamespace

import pytest

from framework.command.logged_run import LoggedRun, read_logged_run
from framework.command.rerun import differences, group_choices, missing_secrets, rerun_config
from framework.command.run_diff import LINE_WIDTH, MOST_CONFIG_ROWS, diff_lines
from framework.command.store_check import Refused

OLD_DIR = "/work/outputs/2026-01-01/10-00-00"


def logged(config: dict, tags: dict | None = None, metrics: dict | None = None, status="FINISHED", name="a-run"):
    info = SimpleNamespace(run_id="f" * 32, run_name=name, status=status)
    data = SimpleNamespace(tags=tags or {}, metrics=metrics or {})
    return LoggedRun(SimpleNamespace(info=info, data=data), config)


def source_config() -> dict:
    return {
        "optimizer": {"name": "adam", "lr": 0.001},
        "trainer": {"epochs": 3, "monitor": "val_loss", "resume": f"{OLD_DIR}/checkpoints/last.npz", "threads": 2},
        "callbacks": {"checkpoint": {"directory": f"{OLD_DIR}/checkpoints"}},
        "logger": {"name": "mlflow", "output_dir": OLD_DIR, "tracking_uri": "postgresql://bob:***@db/mlflow"},
        "notes": {"text": "costs ${5}"},
        "db": {"password": "***"},
        "seed": 1,
        "output_dir": OLD_DIR,
    }


def source_tags() -> dict:
    return {
        "output_dir": OLD_DIR,
        "logger.output_dir": OLD_DIR,
        "callbacks.checkpoint.directory": f"{OLD_DIR}/checkpoints",
        "seed": "1",
    }


def test_the_rerun_config_is_the_logged_one_in_a_job_directory_of_its_own():
    source = logged(source_config(), source_tags())
    config, notes = rerun_config(source, ["seed=2"], {})
    assert config["output_dir"] == "${hydra:runtime.output_dir}"
    assert config["logger"]["output_dir"] == "${output_dir}"
    assert config["callbacks"]["checkpoint"]["directory"] == "${output_dir}/checkpoints"
    assert config["seed"] == 1 and config["trainer"]["threads"] == 2  # the logged values; Hydra applies seed=2
    assert config["notes"]["text"] == "costs \\${5}"  # a literal, not an interpolation
    assert config["trainer"]["resume"] is None
    assert notes == [
        f"trainer.resume={OLD_DIR}/checkpoints/last.npz: the source run continued this checkpoint; the re-run "
        "trains from the start (give trainer.resume=... to continue a checkpoint)"
    ]
    assert source.config["output_dir"] == OLD_DIR  # the source's config is left as it was


def test_a_group_option_given_anew_replaces_its_section():
    config = source_config()
    groups = group_choices(config, ["optimizer=sgd", "optimizer.lr=0.1", "seed=3", "trainer={epochs: 1}", "x=1"])
    assert groups == {"optimizer": "sgd"}
    rerun, _ = rerun_config(logged(config, source_tags()), [], groups)
    assert "optimizer" not in rerun and rerun["trainer"]["epochs"] == 3


def test_every_secret_logged_as_stars_must_be_given_or_its_section_replaced():
    config = source_config()
    assert missing_secrets(config, []) == ["logger.tracking_uri", "db.password"]
    assert missing_secrets(config, ["db.password=pw", "logger.tracking_uri=sqlite:///m.db"]) == []
    assert missing_secrets(config, ["+db={password: pw}", "~logger"]) == []


def test_each_kind_of_version_difference_is_one_warning():
    there = {"framework": "0.1.0", "git commit": "abc", "plugins": "contrib, core", "plugin contrib-dist": "1.0"}
    here = {"framework": "0.2.0", "git commit": "abc", "plugins": "core, extras", "plugin contrib-dist": "1.1"}
    assert differences(there, here) == [
        "framework: the source run ran 0.1.0, this re-run runs 0.2.0; results may differ",
        "plugins differ from the source run's: contrib (only in the source run), extras (only here), "
        "contrib-dist 1.0 -> 1.1; results may differ",
    ]
    assert differences(there, dict(there)) == []


def test_the_table_fits_the_screen_and_cuts_a_long_list_of_differences():
    keys = {f"key_{i:02d}": i for i in range(30)}
    a = logged({"trainer": {"monitor": "val_loss"}, **keys}, metrics={"loss": 0.5, "val_loss": 0.25, "system/cpu": 9})
    b = logged({"trainer": {"monitor": "val_loss"}, **{k: v + 1 for k, v in keys.items()}}, metrics={"val_loss": 0.5})
    lines = diff_lines(a, b)
    assert len(lines) <= 40 and max(map(len, lines)) <= LINE_WIDTH == 100
    assert "config: 30 of 31 keys differ" in lines
    assert f"  ... and {30 - MOST_CONFIG_ROWS + 1} more (all of them: --all)" in lines
    start = lines.index("final metrics (* monitored: val_loss)")
    assert [line.split() for line in lines[start + 2 : start + 4]] == [
        ["*", "val_loss", "0.25", "0.5"],
        ["loss", "0.5", "-"],
    ]
    assert not any("system/" in line for line in lines)
    every = diff_lines(a, b, every_key=True)
    assert sum(line.startswith("  key_") for line in every) == 30


def test_versions_that_differ_are_marked_and_long_values_cut():
    tags = {
        "framework_version": "0.1.0",
        "git_commit": "0123456789abcdef" * 2,
        "plugins": '{"core": "x", "contrib": "y"}',
    }
    a = logged({"hidden": list(range(40))}, tags)
    b = logged({"hidden": [1]}, {**tags, "framework_version": "0.2.0", "plugins": '{"core": "x"}'}, status="FAILED")
    lines = diff_lines(a, b)
    assert max(map(len, lines)) <= LINE_WIDTH
    [hidden] = [line for line in lines if line.startswith("  hidden")]
    assert hidden.split()[1].startswith("[0,") and "..." in hidden and hidden.endswith("[1]")
    versions = lines[lines.index("versions (! differs)") + 2 :]
    assert [line.split() for line in versions] == [
        ["!", "framework", "0.1.0", "0.2.0"],
        ["git", "commit", "0123456789ab", "0123456789ab"],
        ["!", "plugins", "only:", "contrib", "only:", "-"],
        ["!", "status", "FINISHED", "FAILED"],
    ]


class _GoneAfterLookup:
    """A client whose server stops answering once it has given the run."""

    tracking_uri = "http://127.0.0.1:5000"

    def get_run(self, run_id):
        return logged({}).run

    def list_artifacts(self, run_id, path=None):
        import requests

        raise requests.ConnectionError("Max retries exceeded with url: /api/2.0/mlflow-artifacts/artifacts")


def test_a_store_that_stops_answering_while_a_run_is_read_is_one_line():
    with pytest.raises(Refused) as raised:
        read_logged_run(_GoneAfterLookup(), "f" * 32, "run_a")
    line = str(raised.value)
    assert line.startswith(f"run_a={'f' * 32}: http://127.0.0.1:5000 stopped answering while the run was read ")
    assert line.endswith("try again when it is up") and "\n" not in line
