"""Learning-rate schedules. ``value(epoch, base_lr, total_epochs)`` gives the
learning rate at a fractional epoch (0 at the start of training, 1.5 halfway
through the second epoch); ``observe(epoch, logs)`` lets a schedule react to
what an epoch measured (reduce on plateau). State round-trips for exact resume.
``LearningRateScheduler`` is the callback that applies a schedule during training."""

import math

from framework.core.errors import InvalidValueError
from framework.core.validation import check_number, check_positive_int
from framework.training.callback import Callback
from framework.training.component import TrainingComponent
from framework.training.monitoring import (
    check_choice,
    check_monitor,
    check_non_negative_int,
    is_improvement,
    monitored_value,
)


class Schedule(TrainingComponent):
    def callback(self):
        """The callback that sets the optimizer's rate from this schedule during training
        (None when the rate never changes)."""
        return LearningRateScheduler(self)

    def value(self, epoch: float, base_lr: float, total_epochs: int) -> float:
        raise NotImplementedError

    def observe(self, epoch: int, logs: dict) -> None:
        """Called after each epoch with its logs; most schedules ignore it."""

    def check_epochs(self, total_epochs: int) -> None:
        """Refuse (``InvalidValueError`` naming the argument) a setting that cannot play out
        within a run of ``total_epochs``; most schedules fit any length."""


class Constant(Schedule):
    """The base learning rate throughout."""

    name = "constant"

    def callback(self):
        return None

    def value(self, epoch, base_lr, total_epochs):
        return base_lr


class StepDecay(Schedule):
    """``base_lr * gamma ** floor(epoch / step_size)``."""

    name = "step"

    def __init__(self, step_size: int = 10, gamma: float = 0.1):
        self.step_size = check_positive_int("step schedule", "step_size", step_size)
        self.gamma = check_number("step schedule", "gamma", gamma, low=0, high=1, low_open=True)

    def value(self, epoch, base_lr, total_epochs):
        return base_lr * self.gamma ** math.floor(epoch / self.step_size)

    def get_config(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    """``base_lr * gamma ** floor(epoch)``: multiplied by ``gamma`` after every epoch."""

    name = "exponential"

    def __init__(self, gamma: float = 0.95):
        self.gamma = check_number("exponential schedule", "gamma", gamma, low=0, high=1, low_open=True)

    def value(self, epoch, base_lr, total_epochs):
        return base_lr * self.gamma ** math.floor(epoch)

    def get_config(self):
        return {"gamma": self.gamma}


class CosineWithWarmup(Schedule):
    """Linear warm-up from ``base_lr / warmup_epochs``-ish to ``base_lr`` over
    ``warmup_epochs``, then a half cosine from ``base_lr`` to ``min_lr`` at the
    last epoch: ``min_lr + (base_lr - min_lr) * (1 + cos(pi * progress)) / 2``."""

    name = "cosine"

    def __init__(self, warmup_epochs: float = 0.0, min_lr: float = 0.0):
        self.warmup_epochs = check_number("cosine schedule", "warmup_epochs", warmup_epochs, low=0)
        self.min_lr = check_number("cosine schedule", "min_lr", min_lr, low=0)

    def check_epochs(self, total_epochs):
        if self.warmup_epochs > total_epochs:
            raise InvalidValueError(
                f"a warm-up of {self.warmup_epochs:g} epochs is longer than the whole run ({total_epochs} epochs), so "
                "the learning rate would never reach its base value",
                "warmup_epochs",
            )

    def value(self, epoch, base_lr, total_epochs):
        if epoch < self.warmup_epochs:
            return base_lr * (epoch + 1e-3) / (self.warmup_epochs + 1e-3)
        span = max(total_epochs - self.warmup_epochs, 1e-12)
        progress = min(max((epoch - self.warmup_epochs) / span, 0.0), 1.0)
        return self.min_lr + (base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def get_config(self):
        return {"warmup_epochs": self.warmup_epochs, "min_lr": self.min_lr}


class ReduceOnPlateau(Schedule):
    """Multiply the learning rate by ``factor`` once ``monitor`` has gone ``patience``
    epochs without improving by more than ``min_delta`` (the same count as early
    stopping's), then wait ``cooldown`` epochs; never below ``min_lr``."""

    name = "reduce_on_plateau"

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 5,
        min_delta: float = 0.0,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ):
        owner = "reduce_on_plateau schedule"
        self.monitor = check_monitor(owner, monitor)
        self.mode = check_choice(owner, "mode", mode, ("min", "max"))
        self.factor = check_number(owner, "factor", factor, low=0, high=1, low_open=True, high_open=True)
        self.patience = check_non_negative_int(owner, "patience", patience)
        self.min_delta = check_number(owner, "min_delta", min_delta, low=0)
        self.cooldown = check_non_negative_int(owner, "cooldown", cooldown)
        self.min_lr = check_number(owner, "min_lr", min_lr, low=0)
        self.scale, self.best, self.wait, self.cooling = 1.0, None, 0, 0

    def value(self, epoch, base_lr, total_epochs):
        return max(base_lr * self.scale, self.min_lr)

    def monitors(self) -> dict[str, str]:
        return {"monitor": self.monitor}

    def observe(self, epoch, logs):
        current = monitored_value("reduce_on_plateau schedule", self.monitor, logs)
        if is_improvement(current, self.best, self.mode, self.min_delta):
            self.best, self.wait = current, 0
        elif self.cooling > 0:
            self.cooling -= 1
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.scale *= self.factor
                self.wait, self.cooling = 0, self.cooldown

    def state_dict(self):
        return {"scale": self.scale, "best": self.best, "wait": self.wait, "cooling": self.cooling}

    def load_state_dict(self, state):
        self.scale, self.best, self.wait, self.cooling = state["scale"], state["best"], state["wait"], state["cooling"]

    def get_config(self):
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "factor": self.factor,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "cooldown": self.cooldown,
            "min_lr": self.min_lr,
        }


SCHEDULES = (Constant, StepDecay, ExponentialDecay, CosineWithWarmup, ReduceOnPlateau)


class LearningRateScheduler(Callback):
    """Before every batch, set ``trainer.optimizer.lr`` to
    ``schedule.value(fractional_epoch, trainer.base_lr, trainer.epochs)`` where
    ``fractional_epoch = (epoch - 1) + batch / batches_per_epoch`` (0 at the start
    of training); after every epoch, let the schedule ``observe`` the logs (reduce
    on plateau). The schedule's state is saved with checkpoints."""

    name = "lr_scheduler"

    def __init__(self, schedule: Schedule):
        if not isinstance(schedule, Schedule):
            names = ", ".join(cls.name for cls in SCHEDULES)
            raise InvalidValueError(
                f"{self.name}: schedule must be a framework Schedule instance (built-in: {names}), got {schedule!r}",
                "schedule",
            )
        self.schedule = schedule

    def get_config(self) -> dict:
        return {"schedule": self.schedule}

    def framework_fit_start(self, trainer):
        self.schedule.check_epochs(trainer.epochs)

    def framework_batch_start(self, trainer, epoch, batch):
        progress = (epoch - 1) + batch / trainer.batches_per_epoch
        trainer.optimizer.lr = float(self.schedule.value(progress, trainer.base_lr, trainer.epochs))

    def framework_epoch_end(self, trainer, epoch, logs):
        self.schedule.observe(epoch, logs)

    def state_dict(self) -> dict:
        return self.schedule.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.schedule.load_state_dict(state)
