"""Fixtures for the scale-out tests: no tracking settings from the user, a real one-node
SLURM cluster on 127.0.0.1 (``tests/scale/slurm.py``) and a PostgreSQL with an mlflow
server on it (``tests/scale/postgres.py``), each started once per session when a test asks
for it; the tests that need one skip, saying why, where it cannot run."""

import pytest

from tests.scale.postgres import postgres, team_server  # noqa: F401 - fixtures
from tests.scale.slurm import ClusterUnavailable, SlurmCluster


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "FRAMEWORK_MLFLOW_PARENT", "FRAMEWORK_SWEEP_PID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves 127.0.0.1
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A running :class:`SlurmCluster` with two CPUs; its daemons are stopped by PID at the end."""
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"), cpus=2)
    try:
        cluster.start()
    except (ClusterUnavailable, OSError) as exc:
        cluster.stop()
        pytest.skip(f"no SLURM cluster: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
