"""A trial's reports and its pruner's verdict, through the Trainer: the monitored value of
every epoch reported, training stopped after the epoch the pruner rejects, and a trial that
reached its last epoch never called pruned."""

from framework.training.callbacks.trial_report import PRUNED, TrialReport
from tests.training.helpers import blobs, make_trainer


class ScriptedTrial:
    """A trial whose pruner rejects the run from epoch ``prune_from`` on."""

    def __init__(self, prune_from: int):
        self.prune_from = prune_from
        self.reports: list[tuple[int, float]] = []
        self.marked: int | None = None

    def report(self, value, epoch):
        self.reports.append((epoch, value))

    def should_prune(self):
        return self.reports[-1][0] >= self.prune_from

    def mark_pruned(self, epoch):
        self.marked = epoch


def _fit(trial, epochs=4):
    x, y = blobs(40)
    trainer = make_trainer([TrialReport(trial, "val_loss")], epochs=epochs)
    history = trainer.fit(x[:30], y[:30], validation_data=(x[30:], y[30:]))
    return trainer, history


def test_every_epoch_is_reported_until_the_pruner_stops_the_run():
    trial = ScriptedTrial(prune_from=2)
    trainer, history = _fit(trial)
    assert [epoch for epoch, _ in trial.reports] == [1, 2]
    assert [value for _, value in trial.reports] == [record["val_loss"] for record in history.epochs]
    assert trial.marked == 2 and len(history) == 2 and history.stop_reason == PRUNED
    assert trainer.callbacks[0].summary_lines() == ["trial: pruned after epoch 2 (its val_loss was not promising)"]


def test_a_trial_that_reaches_its_last_epoch_is_complete():
    trial = ScriptedTrial(prune_from=4)
    _, history = _fit(trial, epochs=4)
    assert len(trial.reports) == 4 and trial.marked is None and history.stop_reason == "completed"
