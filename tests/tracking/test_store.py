"""Where runs go, and creating a fresh SQLite store from several processes at once
(without the lock, two processes racing on a fresh store make one fail in alembic)."""

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from framework.tracking.quiet import MlflowRetryNotes
from framework.tracking.store import (
    TrackingServerUnavailable,
    check_server,
    configure_environment,
    resolve_tracking_uri,
    view_line,
)

from .conftest import free_port


def test_the_config_key_wins_then_the_environment_then_the_launch_directory(tmp_path, monkeypatch):
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path / 'mlflow.db'}"  # the tests run in tmp_path
    assert resolve_tracking_uri(None, tmp_path / "elsewhere") == f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri(None) == "http://127.0.0.1:5000"
    assert resolve_tracking_uri("sqlite:///x.db") == "sqlite:///x.db"


def test_mlflow_is_configured_quiet_private_and_quick_to_give_up_unless_the_user_chose(monkeypatch):
    for key in ("MLFLOW_DISABLE_TELEMETRY", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "99")
    configure_environment("sqlite:///x.db")
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # only for servers
    configure_environment("http://127.0.0.1:5000")
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "1"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "99"  # the user's choice stays
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "false")
    configure_environment("sqlite:///x.db")
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "false"


def test_the_view_line_opens_the_runs_training_view_starting_the_ui_only_for_a_store():
    page = "/#/experiments/3/runs/abc?workflowType=machine_learning"  # not MLflow 3's GenAI overview
    assert view_line("sqlite:////data/mlflow.db", "3", "abc") == (
        f"view it with `mlflow ui --backend-store-uri sqlite:////data/mlflow.db`, then open http://127.0.0.1:5000{page}"
    )
    assert view_line("http://10.0.0.5:5000/", "3", "abc") == f"view it at http://10.0.0.5:5000{page}"


def test_the_training_view_parameter_is_one_the_installed_mlflow_ui_reads():
    import mlflow

    bundle = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
    main = next(bundle.glob("main.*.js")).read_text(encoding="utf-8")
    assert 'e.get("workflowType")' in main and 'MACHINE_LEARNING="machine_learning"' in main
    assert "createHashRouter" in main  # the query goes after the #/... route


def test_mlflow_retry_warnings_about_its_calls_are_hidden_others_are_not(caplog, monkeypatch):
    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL", raising=False)
    configure_environment("sqlite:///x.db")
    configure_environment("sqlite:///x.db")
    pool = logging.getLogger("urllib3.connectionpool")
    # as an in-process run with hydra/job_logging=disabled leaves them: disabled, and the root at ERROR
    monkeypatch.setattr(pool, "disabled", False)
    caplog.set_level(logging.WARNING, logger=pool.name)
    assert sum(isinstance(f, MlflowRetryNotes) for f in pool.filters) == 1  # not one per call
    message = "Retrying (%r) after connection broken by '%r': %s"
    pool.warning(message, "Retry(total=0)", "NewConnectionError()", "/api/2.0/mlflow/runs/log-batch")
    pool.warning(message, "Retry(total=0)", "NewConnectionError()", "/elsewhere")
    pool.warning("Connection pool is full, discarding connection: %s", "127.0.0.1")
    assert [record.getMessage().rsplit(" ", 1)[1] for record in caplog.records] == ["/elsewhere", "127.0.0.1"]
    assert logging.getLogger("mlflow.store.db.utils").getEffectiveLevel() == logging.WARNING


def test_an_unreachable_server_is_reported_in_seconds_naming_the_uri():
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingServerUnavailable, match=f"logger.tracking_uri={uri}: .* logger=none"):
        check_server(uri, timeout=1)
    assert time.monotonic() - started < 10
    check_server("sqlite:///anything.db")  # nothing to check for a local store


@pytest.mark.slow
def test_several_processes_can_create_the_same_fresh_sqlite_store_at_once(tmp_path):
    uri = f"sqlite:///{tmp_path / 'fresh' / 'mlflow.db'}"
    script = f"from framework.tracking.store import open_experiment; print(open_experiment({uri!r}, 'shared')[1])"
    processes = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    assert len({out.strip().splitlines()[-1] for out, _ in outputs}) == 1  # one experiment, the same id for all
    from mlflow import MlflowClient

    names = [e.name for e in MlflowClient(tracking_uri=uri).search_experiments()]
    assert sorted(names) == ["Default", "shared"]


def test_a_file_that_is_not_sqlite_is_refused_with_the_fix_before_mlflow_opens_it(tmp_path):
    from framework.tracking.store import TrackingError, check_server

    store = tmp_path / "mlflow.db"
    store.write_text("my notes, not a database")
    with pytest.raises(TrackingError, match=r"is not an SQLite database, so not an MLflow store; move it aside"):
        check_server(f"sqlite:///{store}")
    assert store.read_text() == "my notes, not a database"
