"""Sweeps on a real one-node SLURM cluster (``slurm`` fixture, 127.0.0.1 only) through
``hydra/launcher=submitit_slurm``: jobs started by the scheduler in another directory
write where the sweep says and track into its store; each gets the CPUs SLURM gives its
task; a cancelled job is a KILLED child while the others finish."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from tests.commands import run_command, start_command
from tests.conftest import listening_addresses
from tests.scale.test_submitit import TINY, tracked_runs

pytestmark = pytest.mark.long


def _sweep_env(slurm) -> dict:
    return {**slurm.env, "MLFLOW_DISABLE_TELEMETRY": "true"}


def test_the_cluster_listens_on_the_loopback_address_only(slurm):
    ports = [int(line.split("=")[1]) for line in slurm.config.read_text().splitlines() if "Port=" in line]
    assert len(ports) == 2
    assert [listening_addresses(port) for port in ports] == [{"127.0.0.1"}, {"127.0.0.1"}]


def test_a_sweep_on_slurm_is_one_parent_with_a_child_per_job(slurm, tmp_path):
    elsewhere = tmp_path / "elsewhere"  # where SLURM starts the jobs (sbatch --chdir)
    elsewhere.mkdir()
    result = run_command(
        "-m", "hydra/launcher=submitit_slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=5",
        f"+hydra.launcher.additional_parameters.chdir={elsewhere}", "seed=0,1", *TINY, "hydra.sweep.dir=sweep",
        cwd=tmp_path, env=_sweep_env(slurm), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    parent, children = tracked_runs(tmp_path)
    assert parent.info.status == "FINISHED" and parent.data.metrics["sweep/children"] == 2
    assert {name: run.info.status for name, run in children.items()} == {"seed=0": "FINISHED", "seed=1": "FINISHED"}
    for job in "01":
        assert json.loads((tmp_path / "sweep" / job / "run.json").read_text())["status"] == "FINISHED"
        # each job's BLAS threads: the one CPU its SLURM task was given
        assert "threads: 1 BLAS thread(s) for this job" in (tmp_path / "sweep" / job / "train.log").read_text()
    assert {run.data.params["trainer.threads"] for run in children.values()} == {"1"}
    assert sorted(path.name for path in elsewhere.iterdir()) == []  # nothing written where the jobs started
    submitted = list((tmp_path / "sweep" / ".submitit").glob("*_0/*_0_log.out"))  # absolute, like the outputs
    assert submitted and re.search(r"Starting with JobEnvironment\(job_id=\d+_0,", submitted[0].read_text())


def test_a_run_in_a_slurm_task_uses_the_cpus_slurm_gave_it(slurm, tmp_path):
    result = subprocess.run(
        ["srun", "--cpus-per-task=2", sys.executable, "-m", "framework.train", "data=xor", "trainer.epochs=1",
         "callbacks.progress=null", "logger=none", "hydra.run.dir=run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, **slurm.env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "threads: 2 BLAS thread(s) for this job" in (tmp_path / "run" / "train.log").read_text()


def test_a_cancelled_job_is_killed_while_the_others_finish(slurm, tmp_path):
    process = start_command(
        "-m", "hydra/launcher=submitit_slurm", "hydra.launcher.cpus_per_task=1", *TINY, "trainer.epochs=2,100000",
        "hydra.sweep.dir=sweep", cwd=tmp_path, env=_sweep_env(slurm),
    )  # fmt: skip
    try:
        checkpoint = tmp_path / "sweep" / "1" / "checkpoints" / "last.npz"
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.3)
        assert checkpoint.exists(), process.communicate(timeout=30)[1][-3000:]
        queued = slurm.run("squeue", "--noheader", "--array", "--format=%i").stdout.split()
        slurm.run("scancel", *[job for job in queued if job.endswith("_1")])
        stderr = process.communicate(timeout=180)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 2, stderr[-3000:]
    assert "error: 1 of 2 jobs failed" in stderr and "  job 1: " in stderr and "interrupted by SIGTERM" in stderr
    record = json.loads((tmp_path / "sweep" / "1" / "run.json").read_text())
    assert record["status"] == "KILLED" and "resume with:" in record["error"]
    parent, children = tracked_runs(tmp_path)
    statuses = {name: run.info.status for name, run in children.items()}
    assert statuses == {"trainer.epochs=2": "FINISHED", "trainer.epochs=100000": "KILLED"}
    assert parent.info.status == "KILLED" and parent.data.metrics["sweep/children_finished"] == 1
