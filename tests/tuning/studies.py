"""What the study tests share: the sweep arguments, reading a study and its MLflow runs,
checking that the two agree, and two sweep processes filling one study."""

import optuna
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from framework.tuning.asked import FAIL_REASON_ATTRIBUTE, STOPPED_ATTRIBUTE, counted
from tests.commands import start_command
from tests.conftest import fresh_store

#: A threshold pruner stops any trial whose val_loss is above 0.3 after an epoch: on xor,
#: lr=1e-5 is still near 0.69 after epoch 1 and lr=0.05 is below 0.1.
PRUNING = [
    "hydra/sweeper=optuna_study", "hydra/sweeper/pruner=threshold", "hydra.sweeper.pruner.upper=0.3",
    "data=xor", "trainer.epochs=3", "callbacks.progress=null",
]  # fmt: skip


def journal_study(journal):
    storage = JournalStorage(JournalFileBackend(str(journal)))
    (name,) = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage)


def runs(uri):
    """The one parent run and its children by trial number."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.search_runs([client.get_experiment_by_name("framework").experiment_id], max_results=1000)
    parents = [r for r in found if r.data.tags.get("sweep") == "parent"]
    assert len(parents) == 1, [r.info.run_name for r in found]
    children = [r for r in found if r.info.run_id != parents[0].info.run_id]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    return parents[0], {int(c.data.tags["trial_number"]): c for c in children}


def check_agreement(study, children):
    """Each trial that counts is the child tagged with its number; pruned in Optuna is pruned in MLflow."""
    assert sorted(children) == [t.number for t in counted(study.trials)]
    for trial in counted(study.trials):
        child = children[trial.number]
        assert child.info.status == "FINISHED"
        assert (child.data.tags["stop_reason"] == "pruned") == (trial.state == TrialState.PRUNED)
        assert trial.state in (TrialState.COMPLETE, TrialState.PRUNED)


def fill_one_study_from_two_processes(tmp_path, template, storage: str, load_study, env=None, trials=5):
    """Two sweep processes started at once on ``storage`` (a journal path or a database URL)
    with one study name: ``trials`` trials in all, both took part, one parent run, one child
    per trial, pruned trials pruned in both."""
    uri = fresh_store(template, tmp_path / "mlflow.db")
    shared = [f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=shared", f"hydra.sweeper.n_trials={trials}"]
    shared += [
        "hydra/sweeper/sampler=random",
        f"logger.tracking_uri={uri}",
        "optimizer.lr=tag(log, interval(1e-5, 0.1))",
    ]
    processes = [
        start_command(
            "-m", *PRUNING, *shared, f"hydra.sweeper.sampler.seed={i}", f"hydra.sweep.dir={d}", cwd=tmp_path, env=env
        )
        for i, d in enumerate(("a", "b"))
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    study = load_study()
    # Two processes may ask for the last trial at the same moment: the later one ends its trial at once,
    # FAIL and not counted, without launching it.
    extra = [t for t in study.trials if t.user_attrs.get(STOPPED_ATTRIBUTE)]
    assert len(counted(study.trials)) == trials and len(extra) <= 1, [(t.number, t.state) for t in study.trials]
    assert all(t.state == TrialState.FAIL and "reached n_trials" in t.user_attrs[FAIL_REASON_ATTRIBUTE] for t in extra)
    parent, children = runs(uri)
    check_agreement(study, children)
    launched = [len(list((tmp_path / d).glob("*/run.json"))) for d in ("a", "b")]
    assert sum(launched) == trials and min(launched) >= 1, launched
    assert parent.info.status == "FINISHED" and parent.data.metrics["sweep/children"] == trials  # the last to end
