"""Runs left RUNNING by a process that died (kill -9) are ended KILLED by
``python -m framework.tracking repair``, with a note and the command that resumes them."""

import signal
import subprocess
import sys
import time

from tests.commands import start_command

from .conftest import TINY


def test_a_killed_run_is_ended_with_its_resume_command(tmp_path, store, client):
    run_dir = tmp_path / "run"
    process = start_command(
        "logger=mlflow", f"logger.tracking_uri={store}", "logger.flush_every_seconds=0", *TINY,
        "trainer.epochs=1000", "model.hidden=[256,256]", f"hydra.run.dir={run_dir}", cwd=tmp_path,
    )  # fmt: skip
    last = run_dir / "checkpoints" / "last.npz"
    deadline = time.monotonic() + 120
    while not last.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert last.exists(), process.communicate(timeout=5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    [run] = client.search_runs([client.get_experiment_by_name("framework").experiment_id])
    assert run.info.status == "RUNNING"  # nobody said otherwise

    repair = [sys.executable, "-m", "framework.tracking", "repair", "--tracking-uri", store]
    result = subprocess.run(repair, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    run = client.get_run(run.info.run_id)
    assert run.info.status == "KILLED"
    assert "ended by python -m framework.tracking repair" in run.data.tags["error_message"]
    assert run.data.tags["resume_command"].endswith(f"trainer.resume={last}")
    assert f"{run.info.run_id} (" in result.stdout and "1 stale run(s) ended" in result.stdout

    again = subprocess.run(repair, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "0 stale run(s) ended" in again.stdout  # a finished repair leaves nothing to do


def test_a_live_run_is_left_alone(tmp_path, tracked, client):
    from framework.command import train
    from framework.tracking.repair import repair

    train(tracked(), log=lambda *_: None)
    [run] = client.search_runs([client.get_experiment_by_name("framework").experiment_id])
    client.set_terminated(run.info.run_id, "RUNNING")  # as if still running, in this (live) process
    assert repair(client) == []
    assert client.get_run(run.info.run_id).info.status == "RUNNING"
