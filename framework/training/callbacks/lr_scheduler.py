"""Drive the optimizer's learning rate from a ``Schedule``."""

from framework.core.errors import InvalidValueError
from framework.training.callback import Callback
from framework.training.schedules import Schedule


class LearningRateScheduler(Callback):
    """Before every batch, set ``trainer.optimizer.lr`` to
    ``schedule.value(fractional_epoch, trainer.base_lr, trainer.epochs)`` where
    ``fractional_epoch = (epoch - 1) + batch / batches_per_epoch`` (0 at the start
    of training); after every epoch, let the schedule ``observe`` the logs (reduce
    on plateau). The schedule's state is saved with checkpoints."""

    name = "lr_scheduler"

    def __init__(self, schedule: Schedule):
        if not isinstance(schedule, Schedule):
            from framework.training.schedules import SCHEDULES

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
