"""Stop at the first batch whose loss is NaN or infinite, with advice."""

import math

from framework.core.errors import FrameworkError
from framework.training.callback import Callback


class NonFiniteLossError(FrameworkError, FloatingPointError):
    """The training loss became NaN or infinite; ``epoch``, ``batch`` and ``loss`` say where."""

    def __init__(self, message: str, *, epoch: int, batch: int, loss: float):
        super().__init__(message)
        self.epoch, self.batch, self.loss = epoch, batch, loss


class NaNGuard(Callback):
    """Raise :class:`NonFiniteLossError` as soon as a batch's loss is not finite,
    instead of training on with NaN weights. No checkpoint is written for the
    diverged state, so those written before stay intact."""

    name = "nan_guard"

    def __init__(self):
        pass  # no options; explicit so the signature (and config) is empty

    def framework_batch_end(self, trainer, epoch, batch, loss):
        if math.isfinite(loss):
            return
        clip = trainer.grad_clip_norm
        clipping = (
            "enable gradient clipping (trainer.grad_clip_norm, e.g. 1.0)"
            if clip is None
            else f"clip gradients harder (trainer.grad_clip_norm is {clip:g})"
        )
        raise NonFiniteLossError(
            f"nan_guard: the training loss became {loss} at epoch {epoch}, batch {batch} "
            f"(step {trainer.global_step}); training diverged. Lower the learning rate "
            f"(it is {trainer.optimizer.lr:g}) or {clipping}. Checkpoints written before this "
            "point are intact; none was written for the diverged state.",
            epoch=epoch,
            batch=batch,
            loss=loss,
        )
