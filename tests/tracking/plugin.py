"""A test plugin: callbacks that fail, get interrupted or cut the network at a chosen epoch, or take their time."""

import signal
import types

from framework.training.callback import Callback
from framework.training.interrupts import Interrupted


class FailAt(Callback):
    """Raises at the end of batch 0 of ``epoch``: a ``RuntimeError`` (``error="runtime"``)
    or ``Interrupted(SIGTERM)``, as the trainer raises it on SIGTERM (``error="sigterm"``)."""

    name = "fail_at"

    def __init__(self, epoch: int = 2, error: str = "runtime"):
        self.epoch, self.error = epoch, error

    def framework_batch_end(self, trainer, epoch, batch):
        if epoch == self.epoch and batch == 0:
            if self.error == "sigterm":
                raise Interrupted(signal.SIGTERM)
            raise RuntimeError(f"boom at epoch {epoch}")


class Outage(Callback):
    """Cuts ``Outage.proxy`` at the start of epoch ``cut`` and restores it at the start of
    epoch ``restore`` (never when null), after the logger noticed the outage."""

    name = "outage"
    proxy = None  # set by the test

    def __init__(self, cut: int = 2, restore: int | None = 4):
        self.cut, self.restore = cut, restore

    def framework_epoch_start(self, trainer, epoch):
        import time

        if epoch == self.cut:
            Outage.proxy.cut()
        if self.restore is not None and epoch == self.restore:
            logger = next(cb for cb in trainer.callbacks if cb.name == "mlflow")
            deadline = time.monotonic() + 30
            while not logger.sender.offline and time.monotonic() < deadline:
                time.sleep(0.05)  # let the logger try (and fail) to send the epochs of the outage
            assert logger.sender.offline, "the logger never noticed the outage"
            Outage.proxy.restore()


class Slow(Callback):
    """Sleeps ``seconds`` at the end of every epoch: a run long enough to be sampled."""

    name = "slow"

    def __init__(self, seconds: float = 0.5):
        self.seconds = seconds

    def framework_epoch_end(self, trainer, epoch, logs):
        import time

        time.sleep(self.seconds)


PLUGIN = types.SimpleNamespace(
    __name__="tracking-tests",
    framework_register_callbacks=lambda: [FailAt, Outage, Slow],
)


def plugins():
    from framework.plugins import build_plugins

    return build_plugins(extra=[PLUGIN])
