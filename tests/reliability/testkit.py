"""A test-only plugin for the reliability suite, loaded by the command in a subprocess
through a temporary ``.dist-info`` entry point (see ``conftest.plugin_site``): callbacks
that mark, pause, stall or break a run at a chosen point, so a test can kill, cut or
fill things at a known moment. Selected like any plugin callback:
``+callbacks.gate={directory: /tmp/x, epochs: [2, 4]}``."""

import hashlib
import io
import os
import time
from pathlib import Path

from framework import hookimpl
from framework.training.callback import Callback

WAIT_SECONDS = 180


def _checkpoint_dir(trainer) -> Path:
    return Path(next(cb.directory for cb in trainer.callbacks if cb.name == "checkpoint"))


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Marker(Callback):
    """Writes ``<directory>/marker`` after batch ``batch`` of epoch ``epoch``; every batch
    sleeps ``sleep`` seconds, so a signal sent on seeing the marker lands mid-training."""

    name = "marker"

    def __init__(self, directory: str, epoch: int = 2, batch: int = 0, sleep: float = 0.0):
        self.directory, self.epoch, self.batch, self.sleep = Path(directory), epoch, batch, sleep

    def framework_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == (self.epoch, self.batch):
            (self.directory / "marker").write_text(f"{epoch} {batch}")
        if self.sleep:
            time.sleep(self.sleep)


class Gate(Callback):
    """At the start of each epoch in ``epochs``, writes ``<directory>/reached-<epoch>`` and
    waits for the test to create ``<directory>/go-<epoch>`` (the test cuts or kills things
    meanwhile)."""

    name = "gate"

    def __init__(self, directory: str, epochs: list | None = None):
        self.directory, self.epochs = Path(directory), list(epochs or [])

    def framework_epoch_start(self, trainer, epoch):
        if epoch not in self.epochs:
            return
        (self.directory / f"reached-{epoch}").write_text("")
        deadline = time.monotonic() + WAIT_SECONDS
        while not (self.directory / f"go-{epoch}").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate: the test never opened go-{epoch}")
            time.sleep(0.02)


class StallWrite(Callback):
    """At the end of epoch ``epoch`` (before the checkpoint callback writes), makes every
    ``.npz`` write stop half-way: half the bytes reach the temporary file, then
    ``<directory>/stalled`` appears and the process sleeps, so ``kill -9`` lands mid-write."""

    name = "stall_write"

    def __init__(self, directory: str, epoch: int = 2):
        self.directory, self.epoch = Path(directory), epoch

    def framework_epoch_end(self, trainer, epoch):
        if epoch != self.epoch:
            return
        import framework.core.npz as npz

        original, marker = npz.atomic_write, self.directory / "stalled"

        def stalling(path, write):
            def half_then_stall(handle):
                buffer = io.BytesIO()
                write(buffer)
                data = buffer.getvalue()
                handle.write(data[: len(data) // 2])
                handle.flush()
                os.fsync(handle.fileno())
                marker.write_text(str(path))
                time.sleep(WAIT_SECONDS)

            return original(path, half_then_stall)

        npz.atomic_write = stalling


class LearningRateJump(Callback):
    """At the start of epoch ``epoch`` sets the learning rate to ``lr`` (a run that diverges
    after good epochs) and records the SHA-256 of ``last.npz`` in ``<directory>/last.sha256``."""

    name = "lr_jump"

    def __init__(self, directory: str, epoch: int = 3, lr: float = 1e6):
        self.directory, self.epoch, self.lr = Path(directory), epoch, lr

    def framework_epoch_start(self, trainer, epoch):
        if epoch == self.epoch:
            (self.directory / "last.sha256").write_text(sha256(_checkpoint_dir(trainer) / "last.npz"))
            trainer.optimizer.lr = self.lr


class FillDisk(Callback):
    """At the start of epoch ``epoch``, records the SHA-256 of ``last.npz`` in
    ``<directory>/last.sha256`` and fills the file system holding the checkpoints (a
    filler file written until ENOSPC), so the next checkpoint write finds the disk full."""

    name = "fill_disk"

    def __init__(self, directory: str, epoch: int = 3):
        self.directory, self.epoch = Path(directory), epoch

    def framework_epoch_start(self, trainer, epoch):
        if epoch != self.epoch:
            return
        checkpoints = _checkpoint_dir(trainer)
        (self.directory / "last.sha256").write_text(sha256(checkpoints / "last.npz"))
        fill(checkpoints / "filler")


def fill(path: Path) -> int:
    """Write zeros to ``path`` until the file system is full; returns the bytes written."""
    written, block = 0, b"\0" * 65536
    with open(path, "wb", buffering=0) as handle:
        while True:
            try:
                written += handle.write(block)
            except OSError:
                if len(block) == 1:
                    return written
                block = block[: len(block) // 2]


class Explode(Callback):
    """Raises ``ValueError`` in ``framework_epoch_end`` of epoch ``epoch``: a plugin's callback with a bug."""

    name = "explode"

    def __init__(self, epoch: int = 2):
        self.epoch = epoch

    def framework_epoch_end(self, trainer, epoch):
        if epoch == self.epoch:
            raise ValueError(f"the dashboard rejected epoch {epoch}")


@hookimpl
def framework_register_callbacks():
    return [Marker, Gate, StallWrite, LearningRateJump, FillDisk, Explode]
