"""A tracked sweep on the submitit launcher's local executor: every job its own process,
a job that fails is a FAILED child, the others finish, and the sweep reports the failure."""

import json

import pytest

from tests.commands import run_command

#: Small and quick: the xor data, two epochs.
TINY = ["data=xor", "trainer.epochs=2", "callbacks.progress=null", "logger.log_model=false"]


def tracked_runs(directory):
    """The sweep's parent and its children (by run name) in the default store of ``directory``."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{directory / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("framework").experiment_id])
    parents = [run for run in runs if run.data.tags.get("sweep") == "parent"]
    assert len(parents) == 1, [run.info.run_name for run in runs]
    children = {run.info.run_name: run for run in runs if run is not parents[0]}
    assert all(child.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for child in children.values())
    return parents[0], children


@pytest.mark.long
def test_a_local_submitit_sweep_tracks_each_job_and_reports_the_one_that_failed(tmp_path):
    # A learning rate of 1e9 diverges in the first epoch: the job fails after its run began.
    result = run_command(
        "-m", "hydra/launcher=submitit_local", "optimizer=sgd", "optimizer.lr=0.1,1e9,0.2", *TINY,
        "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert f"error: 1 of 3 jobs failed (outputs in {tmp_path / 'sweep'}):" in result.stderr
    assert "  job 1: optimizer=sgd optimizer.lr=1000000000.0 " in result.stderr and "training diverged" in result.stderr
    statuses = {job: json.loads((tmp_path / "sweep" / job / "run.json").read_text())["status"] for job in "012"}
    assert statuses == {"0": "FINISHED", "1": "FAILED", "2": "FINISHED"}
    assert (tmp_path / "sweep" / ".submitit").is_dir()  # the launcher's own logs, beside the jobs

    parent, children = tracked_runs(tmp_path)
    assert {name: run.info.status for name, run in children.items()} == {
        "optimizer.lr=0.1": "FINISHED",
        "optimizer.lr=1e+09": "FAILED",
        "optimizer.lr=0.2": "FINISHED",
    }
    assert "training diverged" in children["optimizer.lr=1e+09"].data.tags["error_message"]
    assert parent.info.status == "FAILED"
    assert parent.data.metrics["sweep/children"] == 3
    assert parent.data.metrics["sweep/children_finished"] == 2 and parent.data.metrics["sweep/children_failed"] == 1
    assert parent.data.tags["best_run_name"] in ("optimizer.lr=0.1", "optimizer.lr=0.2")
    assert parent.data.tags["sweep_dir"] == str(tmp_path / "sweep")
