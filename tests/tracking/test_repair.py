"""Runs left RUNNING by a process that died (kill -9) are ended KILLED by
``python -m framework.tracking repair``, with a note and the command that resumes them,
in MLflow and in the run's ``run.json`` alike."""

import json
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
    assert json.loads((run_dir / "run.json").read_text())["status"] == "RUNNING"

    repair = [sys.executable, "-m", "framework.tracking", "repair", "--tracking-uri", store]
    result = subprocess.run(repair, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    run = client.get_run(run.info.run_id)
    assert run.info.status == "KILLED"
    assert "ended by python -m framework.tracking repair" in run.data.tags["error_message"]
    command = run.data.tags["resume_command"]
    assert command.endswith(f"hydra.run.dir={run_dir} trainer.resume={last}")  # continues in its directory
    assert f"{run.info.run_id} (" in result.stdout and "1 stale run(s) ended" in result.stdout
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "KILLED" and record["pid"] == process.pid
    assert "ended by python -m framework.tracking repair" in record["error"]
    assert record["error"].endswith(f"; resume with: {command}")
    assert [p.name for p in run_dir.glob("*.tmp")] == []

    again = subprocess.run(repair, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "0 stale run(s) ended" in again.stdout  # a finished repair leaves nothing to do


def test_a_live_run_is_left_alone(tmp_path, tracked, client):
    from framework.command import train
    from framework.command.repair import repair

    train(tracked(), log=lambda *_: None)
    [run] = client.search_runs([client.get_experiment_by_name("framework").experiment_id])
    client.set_terminated(run.info.run_id, "RUNNING")  # as if still running, in this (live) process
    assert repair(client) == []
    assert client.get_run(run.info.run_id).info.status == "RUNNING"


def test_a_run_json_that_another_run_holds_now_is_left_as_it_is(tmp_path, tracked, client):
    from framework.command import train
    from framework.command.repair import repair
    from framework.tracking.run_tags import PID_TAG
    from framework.training.run_status import write_status

    out = tmp_path / "out"
    train(tracked(output_dir=out), log=lambda *_: None)
    [run] = client.search_runs([client.get_experiment_by_name("framework").experiment_id])
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    client.set_tag(run.info.run_id, PID_TAG, str(gone.pid))  # its process died while RUNNING
    client.set_terminated(run.info.run_id, "RUNNING")
    write_status(out, "RUNNING")  # but the directory was resumed meanwhile, by this (live) process
    before = (out / "run.json").read_text()
    assert len(repair(client)) == 1
    assert client.get_run(run.info.run_id).info.status == "KILLED"
    assert (out / "run.json").read_text() == before


def test_a_rerun_is_resumed_by_re_running_its_source(tmp_path):
    from framework.command.repair import resume_command

    last = tmp_path / "checkpoints" / "last.npz"
    last.parent.mkdir()
    last.write_bytes(b"")
    tags = {"callbacks.checkpoint.directory": str(last.parent), "overrides": "seed=2", "rerun_of": "a" * 32}
    command = resume_command(tags, "sqlite:///store.db")
    assert (
        command
        == f"python -m framework.tracking rerun {'a' * 32} --tracking-uri sqlite:///store.db seed=2 trainer.resume={last}"
    )
    assert resume_command({**tags, "rerun_of": ""}, "sqlite:///store.db").startswith(
        "python -m framework.train seed=2 "
    )
