"""Faults of a local store while a run tracks into it: locked by another process at the start
(one line with the way out, after SQLite's own wait) or for a while mid-run (the run goes on,
says so once, delivers everything, and prints no traceback of MLflow's)."""

import contextlib
import logging
import sqlite3
import subprocess
import sys
import time

import pytest

from framework.tracking.quiet import StoreErrorDumps
from framework.tracking.store import configure_environment

TRACKED = ["trainer.epochs=400", "callbacks.progress=null", "logger.flush_every_seconds=0", "logger.log_model=false"]


@contextlib.contextmanager
def locked(path):
    """An exclusive lock on the SQLite file ``path``, held by another connection within the block."""
    database = sqlite3.connect(path, isolation_level=None)
    database.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        database.rollback()
        database.close()


def test_mlflow_database_error_dumps_are_hidden_others_are_not(monkeypatch):
    configure_environment("sqlite:///x.db")
    utils = logging.getLogger("mlflow.store.db.utils")
    assert sum(isinstance(f, StoreErrorDumps) for f in utils.filters) == 1
    monkeypatch.setattr(utils, "disabled", False)  # as an in-process run with hydra/job_logging=disabled leaves it
    shown = []
    handler = logging.Handler()
    handler.emit = shown.append  # MLflow's own loggers do not propagate to pytest's capture
    utils.addHandler(handler)
    try:
        utils.error("SQLAlchemy database error. The following exception is caught.\n(sqlite3.OperationalError) locked")
        utils.error("something else")
    finally:
        utils.removeHandler(handler)
    assert [record.getMessage() for record in shown] == ["something else"]


def _train(tmp_path, store, *args):
    command = [sys.executable, "-m", "framework.train", f"logger.tracking_uri=sqlite:///{store}", *args]
    return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.long  # SQLite and MLflow wait about 13 s before a lock counts as held
def test_a_store_locked_at_the_start_is_one_line_with_the_way_out(tmp_path, _template_store):
    store = tmp_path / "mlflow.db"
    store.write_bytes(_template_store.read_bytes())
    with locked(store):
        process = _train(tmp_path, store, "trainer.epochs=1", "hydra.run.dir=run")
        _, err = process.communicate(timeout=120)
    assert process.returncode == 2, err
    [line] = [line for line in err.splitlines() if line.strip()]
    assert line == (
        f"error: logger.tracking_uri=sqlite:///{store}: {store} is locked by another process (a long write, or a "
        "program holding it open); once it is done, run again, or track elsewhere "
        "(logger.tracking_uri=sqlite:///<other path>), or run with logger=none"
    )


@pytest.mark.long  # a run of several seconds, locked out of its store for eight
def test_a_lock_that_clears_mid_run_loses_nothing_and_prints_no_traceback(tmp_path, _template_store):
    from mlflow import MlflowClient

    store = tmp_path / "mlflow.db"
    store.write_bytes(_template_store.read_bytes())
    process = _train(tmp_path, store, *TRACKED, "hydra.run.dir=run")
    deadline = time.monotonic() + 60
    while not (tmp_path / "run" / "checkpoints" / "last.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with locked(store):
        time.sleep(8)
    _, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "SQLAlchemy" not in err
    assert all(line.startswith("mlflow: ") for line in err.splitlines() if line.strip()), err
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    [run] = client.search_runs([client.get_experiment_by_name("framework").experiment_id])
    assert run.info.status == "FINISHED"
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "loss")) == list(range(1, 401))


def _mount_small_disk(directory, size: str) -> bool:
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], capture_output=True
    )
    return mounted.returncode == 0


@pytest.mark.long  # a run that fills a small disk, then an upload
def test_a_store_whose_disk_fills_mid_run_keeps_the_rest_for_the_upload_command(tmp_path):
    from mlflow import MlflowClient

    disk = tmp_path / "disk"
    if not _mount_small_disk(disk, "1400k"):
        pytest.skip("mounting a small tmpfs needs root and mount")
    try:
        store = disk / "mlflow.db"
        process = _train(tmp_path, store, *TRACKED[1:], "trainer.epochs=600", "hydra.run.dir=run")
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        [outage] = [line for line in err.splitlines() if line.strip()]
        assert (
            outage.startswith("mlflow: cannot reach the tracking store (")
            and "the disk holding the store is full" in outage
        )
        spool = tmp_path / "run" / "mlflow" / "spool.jsonl"
        assert out.splitlines()[-1] == (
            f"mlflow: when {store} can be written again (its disk has space, no other process locks it), "
            f"send them with: python -m framework.tracking upload {spool}"
        )
        subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)  # space freed
        upload = subprocess.run(
            [sys.executable, "-m", "framework.tracking", "upload", str(spool)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert upload.returncode == 0, upload.stderr
        client = MlflowClient(tracking_uri=f"sqlite:///{store}")
        [run] = client.search_runs([client.get_experiment_by_name("framework").experiment_id])
        assert run.info.status == "FINISHED"
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "loss")) == list(range(1, 601))
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
