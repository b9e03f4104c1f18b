"""Exact resume: a run stopped after any epoch, or in the middle of one, and resumed
from its checkpoint into fresh objects ends with bit-identical weights and the same
history as the run that was never interrupted. The setup has dropout (draws from the
generator), Adam (per-parameter state), a reduce-on-plateau schedule and early
stopping with best weights (callback state, arrays included)."""

import signal

import numpy as np
import pytest

from framework.core import Adam
from framework.training.callbacks import EarlyStopping, LearningRateScheduler, ModelCheckpoint
from framework.training.checkpoint import read_checkpoint
from framework.training.interrupts import Interrupted
from framework.training.schedules import ReduceOnPlateau
from tests.training.helpers import (
    Inject,
    RaiseAt,
    Recorder,
    assert_same_weights,
    blobs,
    make_trainer,
    without_seconds,
)
from tests.training.test_checkpoint_callback import SendSignal

EPOCHS = 4
X, Y = blobs(64, seed=3)  # 7 batches of 10 (the last one has 4)
VALIDATION = blobs(20, seed=4)
BATCHES = 7


def resumable_trainer(directory, *extra, seed=0):
    callbacks = [
        LearningRateScheduler(ReduceOnPlateau(monitor="val_loss", factor=0.5, patience=0, min_delta=0.02)),
        EarlyStopping(monitor="val_loss", patience=EPOCHS, restore_best_weights=True),
        ModelCheckpoint(directory),
        *extra,
    ]
    return make_trainer(callbacks, seed=seed, epochs=EPOCHS, batch_size=10, dropout=0.3, optimizer=Adam(lr=0.05))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    trainer = resumable_trainer(tmp_path_factory.mktemp("reference"))
    history = trainer.fit(X, Y, validation_data=VALIDATION)
    assert len(history) == EPOCHS
    assert len(set(history["lr"])) > 1, "the schedule should have reduced the rate at least once"
    early_stopping = trainer.callbacks[1]
    assert early_stopping.best_epoch < EPOCHS, "restoring the best weights should matter in this setup"
    return trainer


def resume_and_compare(reference, last, directory):
    fresh = resumable_trainer(directory, Recorder(), seed=12345)  # other initial weights and generator state
    history = fresh.fit(X, Y, validation_data=VALIDATION, resume_from=last)
    assert_same_weights(fresh.model.state_dict(), reference.model.state_dict())
    assert_same_weights(fresh.optimizer.state_dict(), reference.optimizer.state_dict())
    assert without_seconds(history) == without_seconds(reference.history)
    assert history.stop_reason == reference.history.stop_reason
    assert fresh.global_step == reference.global_step
    assert fresh.rng.bit_generator.state == reference.rng.bit_generator.state
    return fresh


@pytest.mark.parametrize("k", range(1, EPOCHS))
def test_stopping_after_epoch_k_and_resuming_is_bit_identical(reference, tmp_path, k):
    stopped = resumable_trainer(tmp_path, RaiseAt(KeyboardInterrupt(), epoch=k + 1, hook="epoch_start"))
    with pytest.raises(KeyboardInterrupt):
        stopped.fit(X, Y, validation_data=VALIDATION)
    last = tmp_path / "last.npz"
    manifest = read_checkpoint(last).manifest
    assert (manifest["completed_epochs"], manifest["batches_done"]) == (k, 0)
    fresh = resume_and_compare(reference, last, tmp_path)
    recorder = fresh.callbacks[-1]
    assert recorder.calls[1] == ("recorder", "epoch_start", k + 1, None)
    assert next(c for c in recorder.calls if c[1] == "epoch_end")[2] == k + 1


@pytest.mark.parametrize("k", range(1, EPOCHS))
def test_resuming_from_the_epoch_files_of_a_finished_run_is_bit_identical(reference, tmp_path, k):
    resume_and_compare(reference, reference.callbacks[2].directory + f"/epoch-{k:04d}.npz", tmp_path)


@pytest.mark.parametrize(
    ("epoch", "batch"),
    [(1, 0), (2, 3), (2, BATCHES - 1), (EPOCHS, 5)],
    ids=["first-batch", "middle", "last-batch-before-validation", "last-epoch"],
)
def test_resuming_from_a_checkpoint_written_on_sigterm_mid_epoch_is_bit_identical(reference, tmp_path, epoch, batch):
    stopped = resumable_trainer(tmp_path, SendSignal(signal.SIGTERM, epoch, batch))
    with pytest.raises(Interrupted):
        stopped.fit(X, Y, validation_data=VALIDATION)
    last = tmp_path / "last.npz"
    manifest = read_checkpoint(last).manifest
    assert (manifest["completed_epochs"], manifest["batches_done"]) == (epoch - 1, batch + 1)
    fresh = resume_and_compare(reference, last, tmp_path)
    calls = fresh.callbacks[-1].calls
    if batch + 1 < BATCHES:
        assert calls[2] == ("recorder", "batch_start", epoch, batch + 1)  # after fit_start and epoch_start
    else:
        assert calls[2] == ("recorder", "validation_end", epoch, None)


def test_resuming_from_a_checkpoint_written_on_keyboard_interrupt_mid_epoch_is_bit_identical(reference, tmp_path):
    stopped = resumable_trainer(tmp_path, RaiseAt(KeyboardInterrupt(), epoch=3, batch=2))
    with pytest.raises(KeyboardInterrupt):
        stopped.fit(X, Y, validation_data=VALIDATION)
    resume_and_compare(reference, tmp_path / "last.npz", tmp_path)


def test_resume_without_the_checkpoint_differs(reference, tmp_path):
    """The comparison above can fail: a run that restarts from scratch with other seeds does not match."""
    fresh = resumable_trainer(tmp_path, seed=12345)
    fresh.fit(X, Y, validation_data=VALIDATION)
    assert not np.array_equal(
        fresh.model.state_dict()["0.dense.weight"], reference.model.state_dict()["0.dense.weight"]
    )


class TestEarlyStoppedRun:
    SCORES = [1.0, 0.5, 0.6, 0.7, 0.1, 0.1]

    def trainer(self, directory, *extra, seed=0):
        stopper = EarlyStopping(monitor="score", mode="min", patience=2, restore_best_weights=True)
        callbacks = [Inject(score=self.SCORES), stopper, ModelCheckpoint(directory), *extra]
        return make_trainer(callbacks, seed=seed, epochs=6, dropout=0.3)

    def test_resuming_a_run_that_stopped_early_trains_no_further(self, tmp_path):
        reference = self.trainer(tmp_path / "reference")
        reference.fit(X, Y)
        assert (len(reference.history), reference.history.stop_reason) == (4, "early_stopped")
        recorder = Recorder()
        fresh = self.trainer(tmp_path / "resumed", recorder, seed=7)
        history = fresh.fit(X, Y, resume_from=tmp_path / "reference" / "last.npz")
        assert recorder.calls == [("recorder", "fit_start", None, None), ("recorder", "fit_end", None, None)]
        assert (len(history), history.stop_reason) == (4, "early_stopped")
        assert_same_weights(fresh.model.state_dict(), reference.model.state_dict())  # the best (epoch 2) weights

    def test_resuming_before_the_stop_stops_at_the_same_epoch(self, tmp_path):
        reference = self.trainer(tmp_path / "reference")
        reference.fit(X, Y)
        fresh = self.trainer(tmp_path / "resumed", seed=7)
        history = fresh.fit(X, Y, resume_from=tmp_path / "reference" / "epoch-0003.npz")
        assert (len(history), history.stop_reason) == (4, "early_stopped")
        assert without_seconds(history) == without_seconds(reference.history)
        assert_same_weights(fresh.model.state_dict(), reference.model.state_dict())


def test_a_mid_epoch_checkpoint_resumed_on_other_data_is_refused(tmp_path):
    """Its sample order indexes the data it was written for; other data must not be indexed by it."""
    from framework.core import FileFormatError

    stopped = resumable_trainer(tmp_path, RaiseAt(KeyboardInterrupt(), epoch=2, batch=2))
    with pytest.raises(KeyboardInterrupt):
        stopped.fit(X, Y, validation_data=VALIDATION)
    fresh = resumable_trainer(tmp_path)
    with pytest.raises(FileFormatError, match=r"mid-epoch sample order is not an order of the 50 training samples"):
        fresh.fit(X[:50], Y[:50], validation_data=VALIDATION, resume_from=tmp_path / "last.npz")
