"""A study's sweep, run as users run it: trials pruned and recorded as pruned, several sweep
processes filling one study under one parent run, a study continued later."""

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from tests.commands import run_command, start_command
from tests.conftest import fresh_store

#: A threshold pruner stops any trial whose val_loss is above 0.3 after an epoch: on xor,
#: lr=1e-5 is still near 0.69 after epoch 1 and lr=0.05 is below 0.1.
PRUNING = [
    "hydra/sweeper=optuna_study", "hydra/sweeper/pruner=threshold", "hydra.sweeper.pruner.upper=0.3",
    "data=xor", "trainer.epochs=3", "callbacks.progress=null",
]  # fmt: skip


def _study(journal):
    storage = JournalStorage(JournalFileBackend(str(journal)))
    (name,) = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage)


def _runs(uri):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("framework").experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    assert len(parents) == 1, [r.info.run_name for r in runs]
    children = [r for r in runs if r.info.run_id != parents[0].info.run_id]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    return parents[0], {int(c.data.tags["trial_number"]): c for c in children}


def _check_agreement(study, children):
    """Each trial is the child tagged with its number; pruned in Optuna is pruned in MLflow."""
    assert sorted(children) == [t.number for t in study.trials]
    for trial in study.trials:
        child = children[trial.number]
        assert child.info.status == "FINISHED"
        assert (child.data.tags["stop_reason"] == "pruned") == (trial.state == TrialState.PRUNED)
        assert trial.state in (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.mark.slow
def test_a_hopeless_trial_is_pruned_in_the_study_and_in_mlflow(tmp_path, _template_store):
    uri = fresh_store(_template_store, tmp_path / "mlflow.db")
    grid = ["hydra/sweeper/sampler=grid", "optimizer.lr=choice(0.00001,0.05)", f"logger.tracking_uri={uri}"]
    result = run_command("-m", *PRUNING, *grid, "hydra.sweep.dir=sweep", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    study = _study(tmp_path / "sweep" / "optuna.journal")
    states = {t.params["optimizer.lr"]: t for t in study.trials}
    assert states[0.00001].state == TrialState.PRUNED and list(states[0.00001].intermediate_values) == [1]
    assert states[0.05].state == TrialState.COMPLETE and len(states[0.05].intermediate_values) == 3
    parent, children = _runs(uri)
    _check_agreement(study, children)
    pruned = children[states[0.00001].number]
    assert pruned.data.tags["epochs_completed"] == "1" and "trial: pruned after epoch 1" in result.stdout
    assert (tmp_path / "sweep" / str(pruned.data.tags["job_num"]) / "weights.npz").is_file()  # its results kept
    assert parent.data.metrics["sweep/children_pruned"] == 1 and parent.data.metrics["sweep/children_finished"] == 1
    assert parent.data.tags["best_run_id"] == children[states[0.05].number].info.run_id


@pytest.mark.slow
def test_two_sweep_processes_fill_one_study_under_one_parent_run(tmp_path, _template_store):
    uri = fresh_store(_template_store, tmp_path / "mlflow.db")
    shared = [f"hydra.sweeper.storage={tmp_path / 'shared.journal'}", "hydra.sweeper.study_name=shared"]
    shared += ["hydra.sweeper.n_trials=5", "hydra/sweeper/sampler=random", f"logger.tracking_uri={uri}"]
    shared += ["optimizer.lr=tag(log, interval(1e-5, 0.1))"]
    processes = [
        start_command("-m", *PRUNING, *shared, f"hydra.sweeper.sampler.seed={i}", f"hydra.sweep.dir={d}", cwd=tmp_path)
        for i, d in enumerate(("a", "b"))
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    study = _study(tmp_path / "shared.journal")
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]
    parent, children = _runs(uri)
    _check_agreement(study, children)
    launched = sum(len(list((tmp_path / d).glob("*/run.json"))) for d in ("a", "b"))
    assert launched == 5 and all(len(list((tmp_path / d).glob("*/run.json"))) >= 1 for d in ("a", "b"))
    assert parent.info.status == "FINISHED" and parent.data.metrics["sweep/children"] == 5  # the last one to end


@pytest.mark.slow
def test_a_study_run_again_continues_under_its_parent(tmp_path, _template_store):
    uri = fresh_store(_template_store, tmp_path / "mlflow.db")
    args = [*PRUNING, "optimizer.lr=interval(0.01, 0.1)", f"logger.tracking_uri={uri}", "hydra.sweeper.study_name=s"]
    args += [f"hydra.sweeper.storage={tmp_path / 'study.journal'}"]
    assert run_command("-m", *args, "hydra.sweeper.n_trials=2", cwd=tmp_path).returncode == 0
    again = run_command("-m", *args, "hydra.sweeper.n_trials=2", cwd=tmp_path)
    assert again.returncode == 0 and "2 trial(s) so far, running 0 more" in again.stdout
    more = run_command("-m", *args, "hydra.sweeper.n_trials=3", cwd=tmp_path)
    assert more.returncode == 0 and "running 1 more" in more.stdout
    study = _study(tmp_path / "study.journal")
    parent, children = _runs(uri)
    _check_agreement(study, children)
    assert len(children) == 3 and parent.info.status == "FINISHED"
