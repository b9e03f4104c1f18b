"""A progress bar per epoch and a one-line summary of each epoch's logs."""

import math
import sys

from tqdm import tqdm

from framework.console import say
from framework.core.validation import check_bool
from framework.training.callback import Callback


def format_logs(epoch: int, total_epochs: int, logs: dict) -> str:
    """``epoch 2/10 - loss 0.3121 - accuracy 0.9062 - val_loss 0.3344 - lr 0.001 - 0.4s``."""
    parts = [f"epoch {epoch}/{total_epochs}"]
    for key, value in logs.items():
        if key in ("epoch", "seconds"):
            continue
        parts.append(f"{key} {value:.4g}" if isinstance(value, (int, float)) else f"{key} {value}")
    if "seconds" in logs:
        parts.append(f"{logs['seconds']:.1f}s")
    return " - ".join(parts)


class ProgressBar(Callback):
    """A tqdm bar over each epoch's batches with the running mean loss, replaced by
    one summary line of the epoch's logs when it ends (``framework.console.say``). ``enabled=None`` shows the
    bar only when standard output is a terminal; without the bar (redirected
    output, ``enabled=False``) only the summary lines are printed."""

    name = "progress"

    def __init__(self, enabled: bool | None = None):
        self.enabled = check_bool(self.name, "enabled", enabled, allow_none=True)
        self._bar = None

    def get_config(self) -> dict:
        return {"enabled": self.enabled}

    @property
    def bar_shown(self) -> bool:
        if self.enabled is not None:
            return self.enabled
        isatty = getattr(sys.stdout, "isatty", None)
        return bool(isatty and isatty())

    def framework_fit_start(self, trainer):
        self._show_bar = self.bar_shown

    def framework_epoch_start(self, trainer, epoch):
        self._loss_sum, self._losses = 0.0, 0
        if self._show_bar:
            self._bar = tqdm(
                total=trainer.batches_per_epoch,
                desc=f"epoch {epoch}/{trainer.epochs}",
                unit="batch",
                leave=False,
                file=sys.stdout,
                dynamic_ncols=True,
            )

    def framework_batch_end(self, trainer, epoch, batch, loss):
        if self._bar is None:
            return
        if math.isfinite(loss):
            self._loss_sum += loss
            self._losses += 1
        self._bar.update(batch + 1 - self._bar.n)  # a resumed epoch starts past batch 0
        if self._losses:
            self._bar.set_postfix(loss=f"{self._loss_sum / self._losses:.4f}", refresh=False)

    def framework_epoch_end(self, trainer, epoch, logs):
        self._close()
        say(format_logs(epoch, trainer.epochs, logs))

    def framework_exception(self, trainer, error):
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
