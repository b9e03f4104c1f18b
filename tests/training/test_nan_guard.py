"""NaNGuard: a diverging run stops at the first non-finite batch loss with a message
that says where and what to do, and the checkpoint written before stays intact."""

import math

import numpy as np
import pytest

from framework.core import SGD, FrameworkError
from framework.training.callback import Callback
from framework.training.callbacks import ModelCheckpoint, NaNGuard, NonFiniteLossError
from framework.training.checkpoint import read_checkpoint
from tests.training.helpers import blobs, make_trainer

X, Y = blobs(30)


class HugeLearningRateFrom(Callback):
    """Sets an absurd learning rate from the start of ``epoch`` on, so training diverges there."""

    name = "huge_lr"

    def __init__(self, epoch):
        self.epoch = epoch

    def framework_epoch_start(self, trainer, epoch):
        if epoch == self.epoch:
            trainer.optimizer.lr = 1e30


class CopyLastAtEpochStart(Callback):
    name = "copy_last"

    def __init__(self, path):
        self.path, self.copies = path, {}

    def framework_epoch_start(self, trainer, epoch):
        if self.path.exists():
            self.copies[epoch] = self.path.read_bytes()


def test_divergence_raises_with_epoch_batch_and_advice_and_keeps_the_checkpoint(tmp_path):
    last = tmp_path / "last.npz"
    before = CopyLastAtEpochStart(last)
    saver = ModelCheckpoint(tmp_path)
    trainer = make_trainer([saver, NaNGuard(), HugeLearningRateFrom(2), before], epochs=3, optimizer=SGD(lr=0.1))
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(NonFiniteLossError) as raised:
        trainer.fit(X, Y)
    error = raised.value
    assert isinstance(error, FrameworkError)
    assert error.epoch == 2
    assert not math.isfinite(error.loss)
    message = str(error)
    assert f"epoch 2, batch {error.batch}" in message
    assert "learning rate" in message
    assert "grad_clip_norm" in message
    assert "intact" in message
    # The checkpoint of epoch 1 is byte for byte what it was before the divergence, and usable.
    assert last.read_bytes() == before.copies[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001.npz", "last.npz"]
    checkpoint = read_checkpoint(last)
    assert checkpoint.manifest["completed_epochs"] == 1
    assert all(np.isfinite(array).all() for array in checkpoint.model.values())


def test_without_the_guard_a_diverged_run_trains_on_silently():
    trainer = make_trainer([HugeLearningRateFrom(2)], epochs=3, optimizer=SGD(lr=0.1))
    with np.errstate(over="ignore", invalid="ignore"):
        history = trainer.fit(X, Y)
    assert not math.isfinite(history["loss"][-1])


def test_a_healthy_run_is_not_interrupted():
    history = make_trainer([NaNGuard()], epochs=3).fit(X, Y)
    assert len(history) == 3
    assert history.stop_reason == "completed"


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), float("-inf")])
def test_every_non_finite_loss_is_caught(loss):
    trainer = make_trainer(grad_clip_norm=5.0)
    with pytest.raises(NonFiniteLossError, match=r"epoch 3, batch 7 .*trainer.grad_clip_norm is 5"):
        NaNGuard().framework_batch_end(trainer, epoch=3, batch=7, loss=loss)


def test_large_but_finite_losses_pass():
    NaNGuard().framework_batch_end(make_trainer(), epoch=1, batch=0, loss=1e300)
