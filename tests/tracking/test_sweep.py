"""Sweeps: one parent run per multirun, a child run per job named from its swept
overrides, and a summary on the parent; with the parallel (joblib) launcher and the
Optuna sweeper, each checked run by run and metric by metric."""

import csv
import signal
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.commands import run_command, start_command, terminate_when

from .conftest import TINY, all_artifacts, history_of

QUICK = ["logger=mlflow", "logger.log_model=false", "logger.log_checkpoints=false", *TINY]


def _client(tmp_path):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


def _runs(client):
    experiment = client.get_experiment_by_name("framework")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    assert len(parents) == 1, [r.info.run_name for r in runs]
    children = [r for r in runs if r is not parents[0]]
    return parents[0], children


def _check_children_against_their_jobs(client, parent, children):
    """Each child: linked to the parent, FINISHED, and every metric of every epoch equal to
    the ``history.npz`` its job wrote."""
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED"
        history = np.load(Path(child.data.tags["output_dir"]) / "history.npz")
        epochs = [int(e) for e in history["epoch"]]
        assert epochs == [1, 2, 3]
        for key in history.files:
            if key == "epoch":
                continue
            assert history_of(client, child.info.run_id, key) == [
                (e, float(v)) for e, v in zip(epochs, history[key])
            ], (
                child.info.run_name,
                key,
            )


def _check_summary(client, parent, children, tmp_path, sweep_key):
    assert parent.info.status == "FINISHED"
    best = min(children, key=lambda r: r.data.metrics["val_loss"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    assert parent.data.tags["best_run_name"] == best.info.run_name
    # the parent's own metrics under sweep/, apart from its children's
    assert parent.data.metrics["sweep/best_val_loss"] == best.data.metrics["val_loss"]
    assert parent.data.metrics["sweep/children"] == len(children) == parent.data.metrics["sweep/children_finished"]
    assert not set(parent.data.metrics) & set(best.data.metrics)
    assert parent.data.tags["mlflow.user"] == best.data.tags["mlflow.user"]
    # its description: the children best first, the best one linked
    description = parent.data.tags["mlflow.note.content"]
    ranked = [c.info.run_name for c in sorted(children, key=lambda r: r.data.metrics["val_loss"])]
    positions = [description.index(f"| {name}") for name in ranked]
    assert positions == sorted(positions)
    assert f"[{best.info.run_name}](#/experiments/{best.info.experiment_id}/runs/{best.info.run_id})" in description
    artifacts = all_artifacts(client, parent.info.run_id)
    assert {"summary/children.csv", "summary/children.md", "summary/comparison.png", "config/multirun.yaml"} <= set(
        artifacts
    )
    folder = Path(client.download_artifacts(parent.info.run_id, "summary", str(tmp_path / "summary")))
    with open(folder / "children.csv") as handle:
        listed = list(csv.DictReader(handle))
    assert [row["run_name"] for row in listed] == ranked  # the description's order and value format
    rows = {row["run_id"]: row for row in listed}
    assert set(rows) == {c.info.run_id for c in children}
    for child in children:
        row = rows[child.info.run_id]
        assert row["status"] == "FINISHED" and row["run_name"] == child.info.run_name
        assert row["val_loss"] == f"{child.data.metrics['val_loss']:.6g}" and f"| {row['val_loss']} |" in description
        assert row[sweep_key] == child.data.params[sweep_key]
    assert (folder / "children.md").read_text() == description


@pytest.mark.long  # with the long checks: two parallel tracked jobs, about 11 s
def test_a_parallel_sweep_is_a_parent_with_one_child_per_job(tmp_path):
    result = run_command(
        "-m",
        *QUICK,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "seed=0,1,2,3",
        "hydra.sweep.dir=multirun",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = _client(tmp_path)
    parent, children = _runs(client)
    assert parent.info.run_name == "sweep seed=0,1,2,3"
    assert sorted(c.info.run_name for c in children) == ["seed=0", "seed=1", "seed=2", "seed=3"]
    for child in children:
        assert child.data.params["seed"] == child.info.run_name.split("=")[1] == child.data.tags["seed"]
        assert child.data.tags["job_num"] == child.data.params["seed"]  # seed i is job i
        assert Path(child.data.tags["output_dir"]) == tmp_path / "multirun" / child.data.tags["job_num"]
        assert "config/hydra/overrides.yaml" in all_artifacts(client, child.info.run_id)
    _check_children_against_their_jobs(client, parent, children)
    _check_summary(client, parent, children, tmp_path, "seed")
    assert f"sweep parent run {parent.info.run_id}" in result.stdout


@pytest.mark.long  # with the long checks: a parallel study, about 8 s
def test_a_study_with_parallel_jobs_gets_a_parent_and_children(tmp_path):
    result = run_command(
        "-m",
        *QUICK,
        "hydra/sweeper=optuna_study",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=2",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.sampler.seed=0",
        "optimizer.lr=tag(log, interval(1e-3, 1e-1))",
        "hydra.sweep.dir=multirun",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = _client(tmp_path)
    parent, children = _runs(client)
    assert len(children) == 2
    for child in children:
        name, _, value = child.info.run_name.partition("=")
        assert name == "optimizer.lr" and value == f"{float(child.data.params['optimizer.lr']):.4g}"  # short names
    _check_children_against_their_jobs(client, parent, children)
    _check_summary(client, parent, children, tmp_path, "optimizer.lr")
    best_value = yaml.safe_load((tmp_path / "multirun" / "optimization_results.yaml").read_text())["best_value"]
    assert parent.data.metrics["sweep/best_val_loss"] == pytest.approx(best_value, rel=1e-12)


@pytest.mark.slow
def test_a_sweep_whose_job_fails_still_ends_its_parent(tmp_path):
    result = run_command("-m", *QUICK, "optimizer.lr=0.01,abc", "hydra.sweep.dir=multirun", cwd=tmp_path)
    assert result.returncode == 2
    assert "optimizer.lr='abc'" in result.stderr
    client = _client(tmp_path)
    parent, children = _runs(client)
    assert parent.info.status == "FAILED"
    assert [c.info.status for c in children] == ["FINISHED"]
    assert parent.data.metrics["sweep/children_finished"] == 1  # summarized all the same
    assert children[0].info.run_name in parent.data.tags["mlflow.note.content"]
    assert "RUNNING" not in [parent.info.status, *[c.info.status for c in children]]


@pytest.mark.long  # with the long checks: a parallel tracked sweep stopped, about 8 s; tests/reliability/test_signals.py stops an untracked one quickly
def test_sigterm_to_a_parallel_sweep_leaves_no_run_running(tmp_path):
    """The workers are killed outright with the launching process: the parent ends them
    KILLED, then itself."""
    args = ["-m", *QUICK, "logger.flush_every_seconds=0", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    args += ["trainer.epochs=1000", "model.hidden=[256,256]", "seed=0,1", "hydra.sweep.dir=multirun"]
    process = start_command(*args, cwd=tmp_path)
    # Both jobs have finished an epoch once their checkpoints exist (and their runs, started
    # before). The store is not read before: opening it while it is being created would race.
    checkpoints = [tmp_path / "multirun" / str(job) / "checkpoints" / "last.npz" for job in (0, 1)]
    stderr = terminate_when(process, lambda: all(p.exists() for p in checkpoints), timeout=90)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    parent, children = _runs(_client(tmp_path))
    assert len(children) == 2
    assert parent.info.status == "KILLED"
    assert [c.info.status for c in children] == ["KILLED", "KILLED"]


def test_an_override_only_a_job_can_resolve_does_not_stop_the_parent_run():
    from omegaconf import OmegaConf

    from framework.command.sweep_callback import sweep_keys, task_overrides

    overrides = ["seed=0,1", "+callbacks.gate={directory: '/marks/${hydra:job.num}'}"]
    config = OmegaConf.create({"hydra": {"overrides": {"task": overrides}}})
    assert task_overrides(config) == overrides  # as typed: ${hydra:job.num} has no value before a job runs
    assert sweep_keys(config) == ["seed"]
