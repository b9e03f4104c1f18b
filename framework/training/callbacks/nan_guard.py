"""Stop a diverging run at the first batch whose loss is NaN, infinite, or exploded
far above where training started, with advice."""

import math

from framework.core.errors import FrameworkError
from framework.core.validation import check_number
from framework.training.callback import Callback

#: A first loss below this counts as this much, so a near-perfect start does not make every later loss "exploded".
MIN_REFERENCE = 1e-3


class TrainingDivergedError(FrameworkError, FloatingPointError):
    """The training loss diverged; ``epoch``, ``batch`` and ``loss`` say where."""

    def __init__(self, message: str, *, epoch: int, batch: int, loss: float):
        super().__init__(message)
        self.epoch, self.batch, self.loss = epoch, batch, loss


class NonFiniteLossError(TrainingDivergedError):
    """The training loss became NaN or infinite."""


class NaNGuard(Callback):
    """Raise :class:`NonFiniteLossError` as soon as a batch's loss is not finite, and
    :class:`TrainingDivergedError` when it exceeds ``max_loss_factor`` times the loss of
    the run's first batch (``None`` switches that check off), instead of training on
    with garbage weights. An optimizer that bounds its step (Adam) keeps the loss finite
    even at an absurd learning rate, so the factor is what catches it. No checkpoint is
    written for the diverged state, so those written before stay intact."""

    name = "nan_guard"

    def __init__(self, max_loss_factor: float | None = 1e4):
        self.max_loss_factor = (
            None
            if max_loss_factor is None
            else check_number(self.name, "max_loss_factor", max_loss_factor, low=1, low_open=True)
        )
        #: The first batch's loss, what "exploded" is measured against (kept in checkpoints).
        self.reference: float | None = None

    def get_config(self) -> dict:
        return {"max_loss_factor": self.max_loss_factor}

    def state_dict(self) -> dict:
        return {"reference": self.reference}

    def load_state_dict(self, state: dict) -> None:
        reference = state.get("reference")
        self.reference = None if reference is None else float(reference)

    def framework_fit_start(self, trainer):
        if trainer.global_step == 0:  # a new run; on resume the reference came from the checkpoint
            self.reference = None

    def framework_batch_end(self, trainer, epoch, batch, loss):
        if math.isfinite(loss):
            if self.reference is None:
                self.reference = abs(float(loss))
                return
            limit = None if self.max_loss_factor is None else self.max_loss_factor * max(self.reference, MIN_REFERENCE)
            if limit is None or abs(loss) <= limit:
                return
            what = (
                f"exploded to {loss:.4g}, more than {self.max_loss_factor:g} times the first batch's "
                f"{self.reference:.4g},"
            )
            error = TrainingDivergedError
        else:
            what, error = f"became {loss}", NonFiniteLossError
        clip = trainer.grad_clip_norm
        clipping = (
            "enable gradient clipping (trainer.grad_clip_norm, e.g. 1.0)"
            if clip is None
            else f"clip gradients harder (trainer.grad_clip_norm is {clip:g})"
        )
        allow = (
            " (To let the loss grow that far: callbacks.nan_guard.max_loss_factor=null.)"
            if error is TrainingDivergedError
            else ""
        )
        raise error(
            f"nan_guard: the training loss {what} at epoch {epoch}, batch {batch} "
            f"(step {trainer.global_step}); training diverged. Lower the learning rate "
            f"(it is {trainer.optimizer.lr:g}) or {clipping}. Checkpoints written before this "
            f"point are intact; none was written for the diverged state.{allow}",
            epoch=epoch,
            batch=batch,
            loss=loss,
        )
