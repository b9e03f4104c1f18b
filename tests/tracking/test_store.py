"""Where runs go, and creating a fresh SQLite store from several processes at once
(without the lock, two processes racing on a fresh store make one fail in alembic)."""

import os
import subprocess
import sys
import time

import pytest

from framework.tracking.store import (
    TrackingServerUnavailable,
    check_server,
    configure_environment,
    resolve_tracking_uri,
    ui_command,
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


def test_the_ui_command_opens_the_store():
    assert ui_command("sqlite:////data/mlflow.db") == "mlflow ui --backend-store-uri sqlite:////data/mlflow.db"
    assert ui_command("http://127.0.0.1:5000") == "open http://127.0.0.1:5000 in a browser"


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
    with pytest.raises(TrackingError, match=r"is not an SQLite database, so it is not an MLflow store; move it aside"):
        check_server(f"sqlite:///{store}")
    assert store.read_text() == "my notes, not a database"
