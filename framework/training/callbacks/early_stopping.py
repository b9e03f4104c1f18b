"""Stop training when a monitored value has stopped improving."""

import numpy as np

from framework.core.validation import check_bool, check_number
from framework.training.callback import Callback
from framework.training.monitoring import (
    MODES,
    check_choice,
    check_monitor,
    check_non_negative_int,
    is_improvement,
    monitored_value,
    resolve_mode,
)

WEIGHTS_PREFIX = "best_weights/"


class EarlyStopping(Callback):
    """Set ``trainer.should_stop`` once ``monitor`` has not improved by more than
    ``min_delta`` for ``patience`` consecutive epochs (``patience=0``: at the first
    epoch without improvement).

    ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (a metric's ``higher_is_better``,
    else maximize names containing "accuracy", minimize the rest). With
    ``restore_best_weights``, the weights of the best epoch are put back when
    training ends (stopped early or not).
    """

    name = "early_stopping"

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = False,
    ):
        owner = self.name
        self.monitor = check_monitor(owner, monitor)
        self.mode = check_choice(owner, "mode", mode, MODES)
        self.patience = check_non_negative_int(owner, "patience", patience)
        self.min_delta = check_number(owner, "min_delta", min_delta, low=0)
        self.restore_best_weights = check_bool(owner, "restore_best_weights", restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch = 0
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: dict[str, np.ndarray] | None = None

    def get_config(self) -> dict:
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "restore_best_weights": self.restore_best_weights,
        }

    def monitors(self) -> dict[str, str]:
        return {"monitor": self.monitor}

    # -- hooks ----------------------------------------------------------------------

    def framework_fit_start(self, trainer):
        if len(trainer.history) == 0:  # a new run; on resume the state came from the checkpoint
            self._reset()
        self.resolved_mode = resolve_mode(self.monitor, self.mode, trainer)

    def framework_epoch_end(self, trainer, epoch, logs):
        current = monitored_value(self.name, self.monitor, logs)
        if is_improvement(current, self.best, self.resolved_mode, self.min_delta):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.should_stop = True

    def framework_fit_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights, source=f"{self.name} best weights")

    # -- state ----------------------------------------------------------------------

    def state_dict(self) -> dict:
        state = {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
        }
        if self.best_weights is not None:
            state.update({WEIGHTS_PREFIX + key: value.copy() for key, value in self.best_weights.items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        self.best = state.get("best")
        self.best_epoch = int(state.get("best_epoch", 0))
        self.wait = int(state.get("wait", 0))
        self.stopped_epoch = int(state.get("stopped_epoch", 0))
        weights = {k[len(WEIGHTS_PREFIX) :]: np.array(v) for k, v in state.items() if k.startswith(WEIGHTS_PREFIX)}
        self.best_weights = weights or None
