"""Report each epoch's monitored value to a tuning trial, and stop when its pruner says so."""

from typing import Protocol

from framework.training.callback import Callback
from framework.training.monitoring import monitored_value

#: The ``stop_reason`` of a run its trial's pruner stopped.
PRUNED = "pruned"


class Trial(Protocol):
    """What a tuner offers a running trial (``framework.tuning.trial`` has Optuna's)."""

    def report(self, value: float, epoch: int) -> None: ...

    def should_prune(self) -> bool: ...

    def mark_pruned(self, epoch: int) -> None: ...


class TrialReport(Callback):
    """After each epoch, report ``monitor`` to ``trial``; when the trial's pruner judges the
    run hopeless, end it after this epoch (its results are written as for any run) with
    ``stop_reason`` ``"pruned"``."""

    name = "trial_report"

    def __init__(self, trial: Trial, monitor: str):
        self.trial = trial
        self.monitor = monitor
        self.pruned_epoch: int | None = None

    def monitors(self) -> dict[str, str]:
        return {"monitor": self.monitor}

    def framework_epoch_end(self, trainer, epoch, logs):
        self.trial.report(monitored_value(self.name, self.monitor, logs), epoch)
        if epoch < trainer.epochs and self.trial.should_prune():  # a trial that ran every epoch is complete
            self.pruned_epoch = epoch
            self.trial.mark_pruned(epoch)
            trainer.stop_reason = PRUNED
            trainer.should_stop = True

    def summary_lines(self) -> list[str]:
        if self.pruned_epoch is None:
            return []
        return [f"trial: pruned after epoch {self.pruned_epoch} (its {self.monitor} was not promising)"]
