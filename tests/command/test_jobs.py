"""Jobs any launcher can run: a failing job raises, the others finish and are tracked,
and the sweep ends non-zero with one line per failed job."""

import json
import signal

import pytest

from tests.commands import run_command

QUICK = ["trainer.epochs=3", "trainer.batch_size=128", "callbacks.progress=null", "logger.flush_every_seconds=0"]


@pytest.mark.long  # with the long checks: three parallel tracked jobs, about 10 s
def test_a_failing_job_leaves_the_parallel_jobs_running_and_tracked(tmp_path):
    result = run_command(
        "-m", *QUICK, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "optimizer.lr=0.01,abc,0.02",
        "hydra.sweep.dir=sweep", cwd=tmp_path, env={"MLFLOW_DISABLE_TELEMETRY": "true"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert f"error: 1 of 3 jobs failed (outputs in {tmp_path / 'sweep'}):" in result.stderr
    assert "  job 1: " in result.stderr and "optimizer.lr=abc: optimizer.lr='abc': lr must be a finite" in (
        result.stderr
    )
    statuses = {job: json.loads((tmp_path / "sweep" / job / "run.json").read_text())["status"] for job in "012"}
    assert statuses == {"0": "FINISHED", "1": "FAILED", "2": "FINISHED"}
    assert (tmp_path / "sweep" / "0" / "weights.npz").exists() and (tmp_path / "sweep" / "2" / "weights.npz").exists()

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("framework").experiment_id])
    children = sorted((r for r in runs if "mlflow.parentRunId" in r.data.tags), key=lambda r: r.info.run_name)
    assert [(c.info.run_name, c.info.status) for c in children] == [
        ("optimizer.lr=0.01", "FINISHED"),
        ("optimizer.lr=0.02", "FINISHED"),
    ]
    assert [len(client.get_metric_history(c.info.run_id, "loss")) for c in children] == [3, 3]


def test_a_single_failing_run_is_one_line_and_records_why(tmp_path):
    result = run_command("trainer.epochs=1", "logger=none", "optimizer.lr=abc", "hydra.run.dir=run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: optimizer.lr='abc': lr must be a finite number, got 'abc'"
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "FAILED" and record["error"].startswith("optimizer.lr='abc'")
    assert "optimizer.lr='abc'" in (tmp_path / "run" / "train.log").read_text()


def test_help_into_a_pipe_closed_early_ends_quietly(tmp_path):
    """``python -m framework.train --help | head -1``: no error message, the exit status of SIGPIPE."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone, as head does after its first line
    try:
        result = subprocess.run(
            [sys.executable, "-m", "framework.train", "--help"],
            cwd=tmp_path, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert result.returncode == 128 + signal.SIGPIPE and result.stderr == ""


@pytest.mark.slow
def test_a_study_goes_on_past_a_failed_trial_and_reports_it(tmp_path):
    result = run_command(
        "-m", "hydra/sweeper=optuna_study", "hydra/sweeper/sampler=grid", "hydra.sweeper.n_trials=2",
        "optimizer.lr=choice(0.01,-1.0)", "trainer.epochs=1", "logger=none",
        "callbacks.progress=null", "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert f"error: 1 of 2 jobs failed (outputs in {tmp_path / 'sweep'}):" in result.stderr
    assert "optimizer.lr=-1.0: lr must be in (0, inf], got -1.0" in result.stderr.splitlines()[-1]
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["status"] == "FAILED"


@pytest.mark.slow
def test_parallel_jobs_stop_when_their_sweep_process_is_killed(tmp_path):
    """``kill -9`` of the sweep: its joblib workers stop after their batch instead of training
    on unseen; each writes its checkpoint and records the job KILLED."""
    import time

    from tests.commands import start_command

    process = start_command(
        "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1", "trainer.epochs=1000",
        "model.hidden=[256,256]", "callbacks.progress=null", "logger=none", "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    checkpoints = [tmp_path / "sweep" / job / "checkpoints" / "last.npz" for job in "01"]
    deadline = time.monotonic() + 120
    while not all(path.exists() for path in checkpoints) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(path.exists() for path in checkpoints), process.communicate(timeout=5)
    workers = {json.loads((tmp_path / "sweep" / job / "run.json").read_text())["pid"] for job in "01"}
    assert process.pid not in workers
    process.kill()
    process.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)
    for job in "01":
        record = json.loads((tmp_path / "sweep" / job / "run.json").read_text())
        assert record["status"] == "KILLED" and "resume with:" in record["error"]


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped) counts as gone
        return "zombie" not in open(f"/proc/{pid}/status").read()
    except OSError:
        return False
