"""Write checkpoints while training: ``last.npz`` after every epoch (and when the
run is interrupted), ``epoch-NNNN.npz`` every N epochs, ``best.npz`` when the
monitored value improves."""

import os
import re
import shutil
from pathlib import Path

from framework.core.errors import InvalidValueError
from framework.core.npz import atomic_write, remove_stale_temporaries
from framework.core.validation import check_bool
from framework.training.callback import Callback
from framework.training.hookspecs import hookimpl
from framework.training.interrupts import Interrupted
from framework.training.monitoring import (
    MODES,
    check_choice,
    check_monitor,
    check_optional_positive_int,
    is_improvement,
    monitored_value,
    resolve_mode,
)

LAST, BEST = "last.npz", "best.npz"
EPOCH_FILE = re.compile(r"epoch-(\d{4,})\.npz")


def epoch_filename(epoch: int) -> str:
    return f"epoch-{epoch:04d}.npz"


class ModelCheckpoint(Callback):
    """Checkpoints in ``directory``, each complete for an exact resume
    (``trainer.fit(..., resume_from=path)``), each written atomically:

    - ``last.npz`` after every epoch, and when training is interrupted by Ctrl-C or
      SIGTERM (then mid-epoch, resuming at the next batch). After any other error
      (a NaN loss, a bug) nothing is written, so the last good checkpoint stays.
    - ``epoch-NNNN.npz`` every ``every_n_epochs`` epochs (``None``: never); with
      ``keep_last=K`` only the newest K of these are kept.
    - ``best.npz`` whenever ``monitor`` improves, with ``save_best`` (never deleted).

    A process killed while writing leaves only a hidden temporary file, never a
    damaged checkpoint; the next fit with this directory removes such leftovers.

    ``last_path`` is the last checkpoint written to ``last.npz`` (``None`` before
    the first), ``best_path`` the best one. On an interruption, the checkpoint's
    path is also set as the error's ``checkpoint`` attribute.

    The epoch-end hook runs after the other callbacks' (``trylast``), so their
    state at the end of the epoch (early stopping, schedules) is what is saved.
    """

    name = "checkpoint"

    def __init__(
        self,
        directory: str | os.PathLike = "checkpoints",
        every_n_epochs: int | None = 1,
        save_best: bool = False,
        monitor: str = "val_loss",
        mode: str = "auto",
        keep_last: int | None = None,
    ):
        owner = self.name
        if not isinstance(directory, (str, os.PathLike)) or not str(directory):
            raise InvalidValueError(f"{owner}: directory must be a non-empty path, got {directory!r}", "directory")
        self.directory = str(directory)
        self.every_n_epochs = check_optional_positive_int(owner, "every_n_epochs", every_n_epochs, "no epoch files")
        self.save_best = check_bool(owner, "save_best", save_best)
        self.monitor = check_monitor(owner, monitor)
        self.mode = check_choice(owner, "mode", mode, MODES)
        self.keep_last = check_optional_positive_int(owner, "keep_last", keep_last, "keep every epoch file")
        self.last_path: Path | None = None
        self.best_path: Path | None = None
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch = 0
        self.written: list[str] = []

    def get_config(self) -> dict:
        return {
            "directory": self.directory,
            "every_n_epochs": self.every_n_epochs,
            "save_best": self.save_best,
            "monitor": self.monitor,
            "mode": self.mode,
            "keep_last": self.keep_last,
        }

    def output_dirs(self) -> dict[str, Path]:
        return {"directory": Path(self.directory)}

    def monitors(self) -> dict[str, str]:
        return {"monitor": self.monitor} if self.save_best else {}

    def artifacts(self) -> dict[str, list[Path]]:
        return {"checkpoints": sorted(Path(self.directory).glob("*.npz"))}

    # -- hooks ----------------------------------------------------------------------

    def framework_fit_start(self, trainer):
        remove_stale_temporaries(self.directory)  # left by a run killed mid-write (kill -9)
        if len(trainer.history) == 0:  # a new run; on resume the state came from the checkpoint
            self._reset()
        self.resolved_mode = resolve_mode(self.monitor, self.mode, trainer)

    @hookimpl(trylast=True)
    def framework_epoch_end(self, trainer, epoch, logs):
        directory = Path(self.directory)
        improved = False
        if self.save_best:
            current = monitored_value(self.name, self.monitor, logs)
            improved = is_improvement(current, self.best, self.resolved_mode, 0.0)
            if improved:
                self.best, self.best_epoch = current, epoch
        epoch_file, obsolete = None, []
        if self.every_n_epochs is not None and epoch % self.every_n_epochs == 0:
            epoch_file = epoch_filename(epoch)
            self.written = [name for name in self.written if name != epoch_file] + [epoch_file]
            if self.keep_last is not None and len(self.written) > self.keep_last:
                obsolete = self.written[: -self.keep_last]
                self.written = self.written[-self.keep_last :]
        last = self._write_last(trainer)  # the saved state already lists epoch_file and the new best
        if epoch_file is not None:
            _copy_atomically(last, directory / epoch_file)
        if improved:
            self.best_path = _copy_atomically(last, directory / BEST)
        for name in obsolete:
            if EPOCH_FILE.fullmatch(name):  # only ever the epoch files this callback wrote
                (directory / name).unlink(missing_ok=True)

    def framework_exception(self, trainer, error):
        if isinstance(error, (Interrupted, KeyboardInterrupt)):
            # Attached to the error so whoever catches it can print how to resume.
            error.checkpoint = self._write_last(trainer)

    # -- state ----------------------------------------------------------------------

    def _write_last(self, trainer) -> Path:
        path = Path(self.directory) / LAST
        trainer.save_checkpoint(path)
        self.last_path = path
        return path

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "written": list(self.written)}

    def load_state_dict(self, state: dict) -> None:
        self.best = state.get("best")
        self.best_epoch = int(state.get("best_epoch", 0))
        self.written = [str(name) for name in state.get("written", [])]
        if self.best is not None:
            self.best_path = Path(self.directory) / BEST


def _copy_atomically(source: Path, target: Path) -> Path:
    def write(handle):
        with open(source, "rb") as src:
            shutil.copyfileobj(src, handle)

    return atomic_write(target, write)
