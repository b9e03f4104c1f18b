"""Launch refusals: a job name that would write outside the run directory, ``hydra.job.chdir=true``,
a launcher size that is zero, impossible or would run one job twice at once, a registered model's
name that ``models:/<name>/<version>`` cannot address. Each stops the command before anything is
written or submitted: exit status 2, exactly one line ``error: <key>=<value>: <problem>; <fix>``,
every file of the launch directory unchanged, and no new file or directory there (no run or
sweep directory, no log file, no MLflow store: the rows track with the default ``logger=mlflow``).

``BAD_LAUNCHES`` is the table; rows run in this process through the command's entry point, as
``test_bad_inputs.py`` runs its own (its helpers, imported), and a sample of them as
``python -m framework.train`` in a subprocess, with the job's logging on."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.reliability.test_bad_inputs import Bad, _error_line, _hashes, _in_process

from .conftest import command, error_line

#: The rows run in a sweep (``--multirun`` goes first, before the rows' overrides).
SUBMITIT = ("--multirun", "hydra/launcher=submitit_local")
SLURM = ("--multirun", "hydra/launcher=submitit_slurm")
JOBLIB = ("--multirun", "hydra/launcher=joblib")
NAME_FIX = "give a plain file name (letters, digits, . _ -)"
CHDIR_FIX = "leave it false (hydra.job.chdir=false)"
REGISTER_FIX = "use only letters, digits, spaces inside the name and . _ - + = ,"
#: Where the rows' single runs would write; ``hydra.job.name=../../keep`` would log to the launch directory.
RUN_DIR = ("outputs", "run")


def _name(id: str, value: str, shown: str | None = None) -> Bad:
    return Bad(id, "job name", (f"hydra.job.name={value}",), (f"hydra.job.name={shown or value}:", NAME_FIX))


def _chdir(id: str, *args: str) -> Bad:
    return Bad(id, "chdir", args, ("hydra.job.chdir=true:", "launch directory", CHDIR_FIX))


def _registered(id: str, value: str, shown: str, *extra: str) -> Bad:
    return Bad(
        id, "registered name", (*extra, f"logger.register_as={value}"), (f"logger.register_as={shown}:", REGISTER_FIX)
    )


def _launcher(id: str, launcher: tuple, key: str, value: int, fix: str) -> Bad:
    setting = f"hydra.launcher.{key}={value}"
    return Bad(id, "launcher", (*launcher, setting), (f"{setting}:", f"set hydra.launcher.{key}{fix}"))


BAD_LAUNCHES = [
    _name("name-escapes-two-up", "../../keep"),
    _name("name-escapes-one-up", "../keep"),
    _name("name-absolute", "{files}/elsewhere"),
    _name("name-in-a-subdirectory", "logs/train"),
    _name("name-dot-dot", ".."),
    _name("name-empty", "''", "''"),
    _name("name-backslash", "'a\\b'", "a\\b"),
    Bad(
        "name-escapes-in-a-sweep",
        "job name",
        (*SUBMITIT, "hydra.job.name=../../keep"),
        ("hydra.job.name=../../keep:", NAME_FIX),
    ),
    _chdir("chdir-true", "hydra.job.chdir=true"),
    _chdir("chdir-capital-true", "hydra.job.chdir=True"),
    _chdir("chdir-in-a-sweep", *JOBLIB, "hydra.job.chdir=true"),
    _registered("register-query", "'net?v2'", "net?v2"),
    _registered("register-slash", "team/model", "team/model"),
    _registered("register-fragment", "'net#1'", "net#1"),
    _registered("register-percent", "'net%20'", "net%20"),
    _registered("register-colon", "'a:b'", "a:b"),
    _registered("register-leading-space", "' net'", "' net'"),
    _registered("register-trailing-space", "'net '", "'net '"),
    _registered("register-empty", "''", "''"),
    _registered("register-dot-dot", "'..net'", "..net"),
    _registered("register-swept", "ok,'net?v2'", "net?v2", "--multirun"),
    _launcher("submitit-two-tasks", SUBMITIT, "tasks_per_node", 2, "=1"),
    _launcher("submitit-eight-tasks", SUBMITIT, "tasks_per_node", 8, "=1"),
    _launcher("submitit-no-task", SUBMITIT, "tasks_per_node", 0, "=1"),
    _launcher("submitit-two-nodes", SUBMITIT, "nodes", 2, "=1"),
    _launcher("submitit-no-node", SUBMITIT, "nodes", 0, "=1"),
    _launcher("submitit-negative-nodes", SUBMITIT, "nodes", -1, "=1"),
    _launcher("submitit-no-time", SUBMITIT, "timeout_min", 0, "=60"),
    _launcher("submitit-negative-time", SUBMITIT, "timeout_min", -5, "=60"),
    _launcher("submitit-no-cpu", SUBMITIT, "cpus_per_task", 0, "=1"),
    _launcher("submitit-negative-cpus", SUBMITIT, "cpus_per_task", -2, "=1"),
    _launcher("submitit-no-memory", SUBMITIT, "mem_gb", 0, "=1"),
    _launcher("submitit-negative-gpus", SUBMITIT, "gpus_per_node", -1, "=0"),
    _launcher("slurm-two-tasks", SLURM, "tasks_per_node", 2, "=1"),
    _launcher("slurm-four-nodes", SLURM, "nodes", 4, "=1"),
    _launcher("slurm-no-memory", SLURM, "mem_gb", 0, "=1"),
    _launcher("joblib-no-jobs", JOBLIB, "n_jobs", 0, " to the jobs to run at once"),
]
IN_A_TERMINAL = ["name-escapes-two-up", "chdir-true", "register-query", "submitit-two-tasks", "joblib-no-jobs"]


def test_the_table_covers_every_kind_of_launch_refusal():
    kinds = {case.kind: sum(other.kind == case.kind for other in BAD_LAUNCHES) for case in BAD_LAUNCHES}
    assert len(BAD_LAUNCHES) >= 25 and len({case.id for case in BAD_LAUNCHES}) == len(BAD_LAUNCHES)
    assert kinds.keys() == {"job name", "chdir", "registered name", "launcher"} and min(kinds.values()) >= 3


def _launch_dir(tmp_path: Path) -> dict[Path, str]:
    """The user's files before the command (``keep.log``: where ``../../keep`` would log); their hashes."""
    (tmp_path / "keep.log").write_text("the user's own log\n")
    (tmp_path / "notes.txt").write_text("not the run's\n")
    return _hashes(tmp_path)


def _assert_nothing_written(tmp_path: Path, before: dict[Path, str]) -> None:
    """Every file as it was, and nothing new: no run or sweep directory, no log, no store."""
    assert _hashes(tmp_path) == before
    assert sorted(tmp_path.rglob("*")) == sorted(before), sorted(tmp_path.rglob("*"))


@pytest.mark.parametrize("case", BAD_LAUNCHES, ids=[case.id for case in BAD_LAUNCHES])
def test_a_bad_launch_is_refused_in_one_line_before_anything_is_written(case, tmp_path, monkeypatch, capsys):
    before = _launch_dir(tmp_path)
    code, out, err = _in_process(case, tmp_path, tmp_path.joinpath(*RUN_DIR), monkeypatch, capsys)
    assert code == 2, err
    assert "Traceback" not in out
    line = _error_line(case, err)
    for expected in case.expect:
        assert expected.replace("{files}", str(tmp_path)) in line, f"{expected!r} not in {line!r}"
    _assert_nothing_written(tmp_path, before)


def test_in_a_terminal_a_bad_launch_prints_the_same_single_line(tmp_path):
    """A sample as real subprocesses, with the job's log file on (two at a time: two cores)."""
    cases = [case for case in BAD_LAUNCHES if case.id in IN_A_TERMINAL]

    def run(case):
        launch = tmp_path / case.id
        launch.mkdir()
        before = _launch_dir(launch)
        run_dir = launch.joinpath(*RUN_DIR)
        return case, before, command(*case.argv(launch), f"hydra.run.dir={run_dir}", cwd=launch, timeout=120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, cases))
    assert len(results) == len(IN_A_TERMINAL)
    for case, before, result in results:
        assert result.returncode == 2, (case.id, result.stderr)
        line = error_line(result)
        for expected in case.expect:
            assert expected.replace("{files}", str(tmp_path / case.id)) in line, (case.id, expected, line)
        _assert_nothing_written(tmp_path / case.id, before)


def _composed(key: str, value):
    """A config as Hydra composes it, with only the keys the launch checks read, and ``key=value``."""
    config = OmegaConf.create({"hydra": {"job": {"name": "train", "chdir": False}, "overrides": {"task": []}}})
    OmegaConf.update(config, key, value, force_add=True)
    return config


@pytest.mark.parametrize(
    "key, value",
    [
        ("hydra.job.name", "train.v2"),
        ("hydra.job.name", None),
        ("hydra.job.chdir", False),
        ("logger.register_as", "digits-net"),
        ("logger.register_as", "net v2.1+a=b,c_d"),
        ("logger.register_as", None),
        ("hydra.launcher", {"_target_": "hydra_plugins.hydra_submitit_launcher.x.LocalLauncher", "nodes": 1,
                            "tasks_per_node": 1, "gpus_per_node": 0, "mem_gb": None, "cpus_per_task": 1}),
        ("hydra.launcher", {"_target_": "hydra_plugins.hydra_joblib_launcher.x.JoblibLauncher", "n_jobs": -1}),
        ("hydra.launcher", {"_target_": "some_other.Launcher", "n_jobs": 0, "nodes": 0}),
    ],
)  # fmt: skip
def test_a_good_launch_passes(key, value):
    from framework.command.launch_checks import check_launch

    check_launch(_composed(key, value), multirun=True)


@pytest.mark.parametrize("name", ["digits-net", "net v2.1+a=b,c_d", "modèle"])
def test_every_name_the_check_lets_through_is_addressable_by_a_models_uri(name):
    from mlflow.store.artifact.utils.models import _parse_model_uri

    from framework.command.launch_checks import check_launch

    check_launch(_composed("logger.register_as", name), multirun=False)
    parsed = _parse_model_uri(f"models:/{name}/1")
    assert (parsed.name, parsed.version) == (name, "1")
