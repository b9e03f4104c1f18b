"""A sweep that cannot start says why in one line and leaves no RUNNING record: a launcher
or sweeper of the ``sweep`` extra that is not installed (in an environment really without
that extra's packages), or a tracking server that does not answer."""

import json
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.commands import run_command
from tests.conftest import free_port

#: The ``sweep`` extra's packages as installed (modules, distributions, Hydra plugins).
SWEEP_EXTRA = ("optuna", "submitit", "hydra_joblib_launcher", "hydra_submitit_launcher")
INSTALL = 'install it: pip install "framework[sweep]"'
QUICK = ["trainer.epochs=1", "callbacks.progress=null"]


def _of_the_extra(name: str) -> bool:
    return name.split("-")[0].lower() in SWEEP_EXTRA


@pytest.fixture(scope="module")
def without_sweep_extra(tmp_path_factory) -> Path:
    """The Python of a virtualenv holding this one's packages, the sweep extra's left out (the
    ``hydra_plugins`` namespace too, so Hydra finds no joblib or submitit launcher)."""
    root = tmp_path_factory.mktemp("without-sweep-extra")
    venv.create(root, with_pip=False, symlinks=True)
    site = Path(sysconfig.get_paths(vars={"base": str(root), "platbase": str(root)})["purelib"])
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name == "hydra_plugins":
            (site / entry.name).mkdir()
            for plugin in entry.iterdir():
                if not _of_the_extra(plugin.name):
                    (site / entry.name / plugin.name).symlink_to(plugin)
        elif not _of_the_extra(entry.name):
            (site / entry.name).symlink_to(entry)
    python = root / "bin" / "python"
    probe = "import importlib.util as u; print(u.find_spec('optuna'), u.find_spec('framework') is not None)"
    assert subprocess.run([python, "-c", probe], capture_output=True, text=True).stdout.split() == ["None", "True"]
    return python


def _run(python: Path, *args, cwd) -> subprocess.CompletedProcess:
    command = [str(python), "-m", "framework.train", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def _one_line(result) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("option", ["joblib", "submitit_local"])
def test_a_launcher_of_the_sweep_extra_says_how_to_install_it(without_sweep_extra, tmp_path, option):
    result = _run(without_sweep_extra, "-m", f"hydra/launcher={option}", "seed=0,1", "logger=none", cwd=tmp_path)
    line = _one_line(result)
    assert line.startswith(f"error: hydra/launcher={option}: this option comes with the framework's 'sweep' extra")
    assert line.endswith(INSTALL)
    assert list(tmp_path.iterdir()) == []


def test_the_study_sweeper_without_optuna_says_how_to_install_it_and_records_nothing(without_sweep_extra, tmp_path):
    result = _run(
        without_sweep_extra, "-m", "hydra/sweeper=optuna_study", "optimizer.lr=interval(0.01, 0.1)", *QUICK,
        cwd=tmp_path,
    )  # fmt: skip
    assert _one_line(result) == (
        "error: hydra/sweeper=optuna_study needs the module 'optuna', which is not installed; install the 'sweep' "
        'extra: pip install "framework[sweep]", or choose another hydra/sweeper'
    )
    assert list(tmp_path.iterdir()) == []  # no sweep.json, no MLflow store with a parent run


def test_a_sweep_whose_tracking_server_is_down_records_it_failed(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = run_command(
        "-m", "seed=0,1", *QUICK, f"logger.tracking_uri={url}", "logger.connect_timeout=0.2", "hydra.sweep.dir=sweep",
        cwd=tmp_path,
    )  # fmt: skip
    line = _one_line(result)
    assert line.startswith(f"error: logger.tracking_uri={url}: the MLflow tracking server does not answer")
    record = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert record["status"] == "FAILED" and line.removeprefix("error: ") in record["error"]
    assert not list((tmp_path / "sweep").glob("*/run.json"))


def test_the_sweep_extra_is_what_pyproject_declares():
    from framework.command.hydra_errors import extra_providing

    assert [extra_providing(name) for name in ("optuna", "hydra_plugins.hydra_joblib_launcher")] == ["sweep"] * 2
    assert extra_providing("numpy") is None
