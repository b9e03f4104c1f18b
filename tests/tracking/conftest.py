"""Fixtures for the tracking tests: a fresh local SQLite store per test (copied from
one migrated once per session, which saves MLflow's two-second schema creation per
test) and composed configs with ``logger=mlflow``. The real ``mlflow server`` on
127.0.0.1 shared by the tests that need it (``mlflow_server``) and the TCP proxy in
front of it (``proxy``) live in ``tests/conftest.py``: the reliability suite uses them too."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from framework.command.paths import conf_dir
from tests.conftest import Proxy, free_port, fresh_store  # noqa: F401 - re-exported for the tracking tests

#: Overrides that make a run tiny: three short epochs, no progress bar.
TINY = ["trainer.epochs=3", "trainer.batch_size=128", "callbacks.progress=null"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No test reads the user's tracking settings or writes into the checkout."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("FRAMEWORK_MLFLOW_PARENT", raising=False)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves 127.0.0.1
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def store(tmp_path, _template_store) -> str:
    """The tracking URI of a fresh, empty SQLite store for this test."""
    return fresh_store(_template_store, tmp_path / "store" / "mlflow.db")


@pytest.fixture
def client(store):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store)


@pytest.fixture
def compose_config(tmp_path):
    """Compose the project's config like the command does (output in ``tmp_path/out``)."""

    def make(*overrides, output_dir=None):
        out = Path(output_dir or tmp_path / "out")
        with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
            return compose("config", overrides=[f"output_dir={out}", *overrides])

    return make


@pytest.fixture
def tracked(compose_config, store):
    """Compose a tiny tracked run into the test's store: ``tracked(*overrides)``."""

    def make(*overrides, output_dir=None):
        return compose_config("logger=mlflow", f"logger.tracking_uri={store}", *TINY, *overrides, output_dir=output_dir)

    return make


def only_run(client, experiment="framework"):
    experiment = client.get_experiment_by_name(experiment)
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def all_artifacts(client, run_id, path=None) -> list[str]:
    found = []
    for entry in client.list_artifacts(run_id, path):
        found += all_artifacts(client, run_id, entry.path) if entry.is_dir else [entry.path]
    return sorted(found)


def history_of(client, run_id, key) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def tracking_of(result) -> dict:
    """The MLflow run a finished run was tracked in, as its logger keeps it for checkpoints."""
    (logger,) = [callback for callback in result.trainer.callbacks if callback.name == "mlflow"]
    return logger.state_dict()
