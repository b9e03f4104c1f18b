"""Helpers for the reliability suite: the real command in a subprocess (optionally with
the test-only plugins of ``testkit.py`` and ``faulty_plugin.py`` installed through a
temporary ``.dist-info``), fresh MLflow stores, and the checks every case shares
(no corrupt ``.npz``, no temporary files, one-line errors)."""

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from framework.core.npz import load_npz
from tests.commands import run_command
from tests.commands import start_command as started
from tests.conftest import fresh_store

REPO = Path(__file__).resolve().parents[2]

#: A tiny, fast run: synthetic blobs (12 batches an epoch), five epochs, no progress bar,
#: untracked unless ``TRACKED`` follows (the later ``logger=`` wins).
EPOCHS = 5
TINY = ["logger=none", "data=blobs", f"trainer.epochs={EPOCHS}", "trainer.batch_size=32", "callbacks.progress=null"]
#: Tracking that sends every epoch at once and skips the slow extras (model, plots).
TRACKED = ["logger=mlflow", "logger.flush_every_seconds=0", "logger.log_model=false", "logger.log_plots=false"]

ENV_KEYS = (
    "MLFLOW_TRACKING_URI",
    "FRAMEWORK_MLFLOW_PARENT",
    "FRAMEWORK_DISABLE_PLUGINS",
    "FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD",
    "HYDRA_FULL_ERROR",
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No test reads the user's tracking or plugin settings or writes into the checkout."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves 127.0.0.1
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.chdir(tmp_path)


# -- test plugins, installed for a subprocess only -----------------------------------------


def install(site: Path, distribution: str, version: str, entry_point: str, module: str) -> Path:
    """A ``.dist-info`` in ``site`` declaring ``entry_point = module`` in group ``framework``;
    a process with ``site`` on its ``PYTHONPATH`` loads it as an installed plugin."""
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[framework]\n{entry_point} = {module}\n")
    return site


@pytest.fixture(scope="session")
def testkit_site(tmp_path_factory) -> Path:
    """A site directory holding the ``reliability-testkit`` distribution (callbacks
    ``marker``, ``gate``, ``stall_write``, ``lr_jump``, ``fill_disk``, ``explode``)."""
    return install(
        tmp_path_factory.mktemp("testkit-site"), "reliability-testkit", "0.0.1", "testkit", "tests.reliability.testkit"
    )


@pytest.fixture(scope="session")
def faulty_site(tmp_path_factory) -> Path:
    """A site directory holding ``faulty-dashboard``, a plugin whose ``framework_epoch_end`` raises."""
    return install(
        tmp_path_factory.mktemp("faulty-site"),
        "faulty-dashboard",
        "0.3.1",
        "dashboard",
        "tests.reliability.faulty_plugin",
    )


def environment(sites=(), **extra) -> dict:
    paths = [str(site) for site in sites] + [str(REPO)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [*paths, os.environ.get("PYTHONPATH")]))}
    env.update({key: str(value) for key, value in extra.items()})
    return env


# -- the command ----------------------------------------------------------------------------


def command(*args, cwd, sites=(), timeout=180, env=None) -> subprocess.CompletedProcess:
    """``python -m framework.train *args`` in ``cwd`` with plugin ``sites`` on the path."""
    return run_command(*args, cwd=cwd, timeout=timeout, env=environment(sites, **(env or {})))


def start_command(*args, cwd, sites=(), env=None) -> subprocess.Popen:
    return started(*args, cwd=cwd, env=environment(sites, **(env or {})))


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``path`` exists; fail with the process's stderr if it ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the run ended (exit {process.returncode}) before {path.name} appeared:\n{err[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"{path.name} did not appear within {timeout} s:\n{err[-3000:]}")
        time.sleep(0.01)


def finish(process: subprocess.Popen, timeout: float = 120) -> subprocess.CompletedProcess:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def kill9(process: subprocess.Popen) -> subprocess.CompletedProcess:
    process.send_signal(signal.SIGKILL)
    result = finish(process)
    assert result.returncode == -signal.SIGKILL
    return result


def error_line(result: subprocess.CompletedProcess) -> str:
    """The command's error: exactly one line on stderr starting with ``error:``, no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


# -- files ------------------------------------------------------------------------------------


def temporary_files(directory: Path) -> list[Path]:
    return sorted(p for p in Path(directory).rglob("*.tmp"))


def assert_all_npz_load(directory: Path) -> list[str]:
    """Every ``.npz`` below ``directory`` loads completely (without pickle); returns their names."""
    names = []
    for path in sorted(Path(directory).rglob("*.npz")):
        arrays = load_npz(path)
        assert arrays, path
        names.append(path.name)
    return names


def assert_same_arrays(first: Path, second: Path, skip=()) -> None:
    a, b = load_npz(first), load_npz(second)
    assert a.keys() == b.keys()
    for key in a:
        if key not in skip:
            assert np.array_equal(a[key], b[key]), f"{first.name}: {key} differs"


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Path:
    """The job directory of an uninterrupted ``TINY`` run: what every interrupted and
    resumed run must end with (``weights.npz``, ``history.npz``)."""
    directory = tmp_path_factory.mktemp("reference")
    result = command(*TINY, f"hydra.run.dir={directory / 'run'}", cwd=directory)
    assert result.returncode == 0, result.stderr
    return directory / "run"


def assert_same_result(run: Path, reference: Path) -> None:
    """Bit-identical final weights; the same history (every value but the epochs' durations)."""
    assert_same_arrays(run / "weights.npz", reference / "weights.npz")
    assert_same_arrays(run / "history.npz", reference / "history.npz", skip=("seconds",))


# -- MLflow ---------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path, _template_store) -> str:
    """The tracking URI of a fresh SQLite store for this test."""
    return fresh_store(_template_store, tmp_path / "store" / "mlflow.db")


def client_for(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def runs_of(client, experiment: str = "framework") -> list:
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], max_results=1000) if found else []


def steps(client, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def metric_history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
