"""A study's sweep, run as users run it: trials pruned and recorded as pruned, several sweep
processes filling one study under one parent run, a study continued later."""

from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.commands import run_command, start_command
from tests.conftest import fresh_store
from tests.tuning.studies import PRUNING, check_agreement, fill_one_study_from_two_processes, journal_study, runs


@pytest.mark.slow
def test_a_hopeless_trial_is_pruned_in_the_study_and_in_mlflow(tmp_path, _template_store):
    uri = fresh_store(_template_store, tmp_path / "mlflow.db")
    grid = ["hydra/sweeper/sampler=grid", "optimizer.lr=choice(0.00001,0.05)", f"logger.tracking_uri={uri}"]
    result = run_command("-m", *PRUNING, *grid, "hydra.sweep.dir=sweep", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    study = journal_study(tmp_path / "sweep" / "optuna.journal")
    states = {t.params["optimizer.lr"]: t for t in study.trials}
    assert states[0.00001].state == TrialState.PRUNED and list(states[0.00001].intermediate_values) == [1]
    assert states[0.05].state == TrialState.COMPLETE and len(states[0.05].intermediate_values) == 3
    parent, children = runs(uri)
    check_agreement(study, children)
    pruned = children[states[0.00001].number]
    assert pruned.data.tags["epochs_completed"] == "1" and "trial: pruned after epoch 1" in result.stdout
    assert (tmp_path / "sweep" / str(pruned.data.tags["job_num"]) / "weights.npz").is_file()  # its results kept
    assert parent.data.metrics["sweep/children_pruned"] == 1 and parent.data.metrics["sweep/children_finished"] == 1
    assert parent.data.tags["best_run_id"] == children[states[0.05].number].info.run_id
    # marked as pruned where a user looks: the runs table (its name), the parent's description
    assert pruned.info.run_name.endswith(" (pruned)") and pruned.data.tags["state"] == "PRUNED"
    assert "| PRUNED (epoch 1) |" in parent.data.tags["mlflow.note.content"]


@pytest.mark.slow
def test_two_sweep_processes_fill_one_study_on_a_journal_file(tmp_path, _template_store):
    journal = tmp_path / "shared.journal"
    fill_one_study_from_two_processes(tmp_path, _template_store, str(journal), lambda: journal_study(journal))


@pytest.mark.long  # with the long checks: two whole studies, about 12 s
def test_a_study_run_again_continues_under_its_parent(tmp_path, _template_store):
    uri = fresh_store(_template_store, tmp_path / "mlflow.db")
    args = [*PRUNING, "optimizer.lr=interval(0.01, 0.1)", f"logger.tracking_uri={uri}", "hydra.sweeper.study_name=s"]
    args += [f"hydra.sweeper.storage={tmp_path / 'study.journal'}"]
    assert run_command("-m", *args, "hydra.sweeper.n_trials=2", cwd=tmp_path).returncode == 0
    again = run_command("-m", *args, "hydra.sweeper.n_trials=2", cwd=tmp_path)
    assert again.returncode == 0 and "2 trial(s) so far, running 0 more" in again.stdout
    more = run_command("-m", *args, "hydra.sweeper.n_trials=3", cwd=tmp_path)
    assert more.returncode == 0 and "running 1 more" in more.stdout
    study = journal_study(tmp_path / "study.journal")
    parent, children = runs(uri)
    check_agreement(study, children)
    assert len(children) == 3 and parent.info.status == "FINISHED"


@pytest.mark.long  # with the long checks: two sweep processes, about 8 s
def test_a_sweep_process_stopped_leaves_the_other_processes_trials_running(tmp_path, _template_store):
    """SIGTERM to one of two processes filling a study: its own trial ends KILLED, the other
    process's running trial is left alone."""
    from tests.commands import terminate_when

    uri = fresh_store(_template_store, tmp_path / "mlflow.db")
    shared = [*PRUNING, f"hydra.sweeper.storage={tmp_path / 'shared.journal'}", "hydra.sweeper.study_name=shared"]
    shared += [f"logger.tracking_uri={uri}", "logger.flush_every_seconds=0", "optimizer.lr=interval(0.01, 0.1)"]
    shared += ["trainer.epochs=100000", "hydra.sweeper.n_trials=2", "hydra.sweeper.pruner.upper=1e9"]

    def running(count):
        return lambda: (tmp_path / "mlflow.db").exists() and _running_children(uri) >= count

    other = start_command("-m", *shared, "hydra.sweep.dir=other", cwd=tmp_path)
    try:
        first = start_command("-m", *shared, "hydra.sweep.dir=first", cwd=tmp_path)
        terminate_when(first, running(2), timeout=120)
        _, children = runs(uri)
        statuses = {Path(c.data.tags["output_dir"]).parent.name: c.info.status for c in children.values()}
        assert statuses == {"first": "KILLED", "other": "RUNNING"}
    finally:
        other.terminate()
        other.communicate(timeout=60)


def _running_children(uri) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("framework")
    if experiment is None:
        return 0
    runs = client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'")
    return sum(1 for r in runs if r.data.tags.get("sweep") != "parent")


@pytest.mark.parametrize(
    "override, line",
    [
        (
            "hydra.sweeper.storage=postgresql://ann:hunter2@127.0.0.1:1/studies",
            "error: hydra.sweeper.storage: cannot open postgresql://ann:***@127.0.0.1:1/studies",
        ),
        (
            "logger.tracking_uri=http://127.0.0.1:1",
            "error: logger.tracking_uri=http://127.0.0.1:1: the MLflow tracking server does not answer",
        ),
    ],
)
def test_a_study_that_cannot_start_stops_in_one_line_before_any_trial(tmp_path, _template_store, override, line):
    store = fresh_store(_template_store, tmp_path / "mlflow.db")  # an existing store: MLflow says nothing of it
    result = run_command(
        "-m", *PRUNING, "optimizer.lr=interval(0.01, 0.1)", "logger.connect_timeout=0.2", f"logger.tracking_uri={store}",
        override, "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and result.stderr.startswith(line)
    assert "hunter2" not in result.stdout + result.stderr
    assert not list((tmp_path / "sweep").glob("*/run.json"))  # no job started
