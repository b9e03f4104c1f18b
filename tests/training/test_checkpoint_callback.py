"""ModelCheckpoint: which files it writes and keeps, what it writes on an interruption,
and that it leaves the last good checkpoint alone after any other error."""

import os
import signal

import numpy as np
import pytest

from framework.core import InvalidValueError
from framework.training.callback import Callback
from framework.training.callbacks import ModelCheckpoint
from framework.training.checkpoint import read_checkpoint
from framework.training.interrupts import Interrupted
from tests.training.helpers import Inject, RaiseAt, assert_same_weights, blobs, make_trainer

X, Y = blobs(30)


def npz_files(directory) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.suffix == ".npz")


def completed_epochs(path) -> int:
    return read_checkpoint(path).manifest["completed_epochs"]


def test_last_is_written_every_epoch_and_holds_the_final_state(tmp_path):
    saver = ModelCheckpoint(tmp_path, every_n_epochs=None)
    trainer = make_trainer([saver], epochs=3)
    trainer.fit(X, Y)
    assert npz_files(tmp_path) == ["last.npz"]
    assert saver.last_path == tmp_path / "last.npz"
    checkpoint = read_checkpoint(saver.last_path)
    assert checkpoint.manifest["completed_epochs"] == 3
    assert checkpoint.manifest["batches_done"] == 0
    assert_same_weights(checkpoint.model, trainer.model.state_dict())


def test_epoch_files_every_n_epochs(tmp_path):
    make_trainer([ModelCheckpoint(tmp_path, every_n_epochs=2)], epochs=5).fit(X, Y)
    assert npz_files(tmp_path) == ["epoch-0002.npz", "epoch-0004.npz", "last.npz"]
    assert completed_epochs(tmp_path / "epoch-0002.npz") == 2
    assert completed_epochs(tmp_path / "epoch-0004.npz") == 4


class WatchBest(Callback):
    """After each epoch (seen from the next epoch's start, and at the end), which epoch best.npz holds."""

    name = "watch_best"

    def __init__(self, path):
        self.path, self.seen = path, []

    def _look(self):
        self.seen.append(completed_epochs(self.path) if self.path.exists() else None)

    def framework_epoch_start(self, trainer, epoch):
        if epoch > 1:
            self._look()

    def framework_fit_end(self, trainer):
        self._look()


def test_best_is_written_only_when_the_monitor_improves(tmp_path):
    saver = ModelCheckpoint(tmp_path, every_n_epochs=None, save_best=True, monitor="score", mode="min")
    watch = WatchBest(tmp_path / "best.npz")
    make_trainer([Inject(score=[3.0, 2.0, 2.5, 1.0, 1.5]), saver, watch], epochs=5).fit(X, Y)
    assert watch.seen == [1, 2, 2, 4, 4]
    assert saver.best_path == tmp_path / "best.npz"
    assert (saver.best, saver.best_epoch) == (1.0, 4)


def test_best_in_auto_mode_maximizes_accuracy(tmp_path):
    saver = ModelCheckpoint(tmp_path, every_n_epochs=None, save_best=True, monitor="val_accuracy")
    make_trainer([Inject(val_accuracy=[0.5, 0.9, 0.7]), saver], epochs=3).fit(X, Y)
    assert completed_epochs(tmp_path / "best.npz") == 2


def test_no_best_file_without_save_best(tmp_path):
    make_trainer([ModelCheckpoint(tmp_path, every_n_epochs=None)], epochs=2).fit(X, Y, validation_data=(X, Y))
    assert not (tmp_path / "best.npz").exists()


def test_keep_last_deletes_older_epoch_files_but_never_best(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    saver = ModelCheckpoint(tmp_path, keep_last=2, save_best=True, monitor="score", mode="min")
    make_trainer([Inject(score=[1.0, 2.0, 3.0, 4.0, 5.0]), saver], epochs=5).fit(X, Y)
    assert npz_files(tmp_path) == ["best.npz", "epoch-0004.npz", "epoch-0005.npz", "last.npz"]
    assert completed_epochs(tmp_path / "best.npz") == 1
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert saver.written == ["epoch-0004.npz", "epoch-0005.npz"]


def test_without_keep_last_every_epoch_file_stays(tmp_path):
    make_trainer([ModelCheckpoint(tmp_path)], epochs=4).fit(X, Y)
    assert npz_files(tmp_path) == [f"epoch-000{i}.npz" for i in range(1, 5)] + ["last.npz"]


def test_the_saved_state_includes_other_callbacks_end_of_epoch_state(tmp_path):
    """The checkpoint's epoch-end hook runs last, whatever the callback order."""
    from framework.training.callbacks import EarlyStopping

    stopper = EarlyStopping(monitor="score", mode="min", patience=9)
    make_trainer([ModelCheckpoint(tmp_path), Inject(score=[2.0, 1.0, 1.5]), stopper], epochs=3).fit(X, Y)
    state = read_checkpoint(tmp_path / "epoch-0003.npz").callbacks["early_stopping"]
    assert (state["best"], state["best_epoch"], state["wait"]) == (1.0, 2, 1)


class SendSignal(Callback):
    name = "send_signal"

    def __init__(self, signum, epoch, batch):
        self.signum, self.epoch, self.batch = signum, epoch, batch

    def framework_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == (self.epoch, self.batch):
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("stop", ["sigterm", "keyboard_interrupt"])
def test_an_interruption_writes_last_at_the_current_batch(tmp_path, stop):
    saver = ModelCheckpoint(tmp_path)
    if stop == "sigterm":
        stopper, expected = SendSignal(signal.SIGTERM, epoch=2, batch=1), Interrupted
    else:
        stopper, expected = RaiseAt(KeyboardInterrupt(), epoch=2, batch=1), KeyboardInterrupt
    trainer = make_trainer([saver, stopper], epochs=3)
    with pytest.raises(expected) as raised:
        trainer.fit(X, Y)
    assert saver.last_path == tmp_path / "last.npz"
    assert raised.value.checkpoint == saver.last_path  # for the "resume with ..." message
    checkpoint = read_checkpoint(saver.last_path)
    assert (checkpoint.manifest["completed_epochs"], checkpoint.manifest["batches_done"]) == (1, 2)
    assert_same_weights(checkpoint.model, trainer.model.state_dict())


def test_any_other_error_leaves_the_last_good_checkpoint_untouched(tmp_path):
    saver = ModelCheckpoint(tmp_path)
    trainer = make_trainer([saver, RaiseAt(RuntimeError("bug"), epoch=2, batch=1)], epochs=3)
    with pytest.raises(RuntimeError) as raised:
        trainer.fit(X, Y)
    assert not hasattr(raised.value, "checkpoint")
    assert npz_files(tmp_path) == ["epoch-0001.npz", "last.npz"]
    assert (tmp_path / "last.npz").read_bytes() == (tmp_path / "epoch-0001.npz").read_bytes()
    assert completed_epochs(tmp_path / "last.npz") == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_missing_monitor_for_save_best_is_a_clear_error(tmp_path):
    trainer = make_trainer([ModelCheckpoint(tmp_path, save_best=True)], epochs=1)
    with pytest.raises(InvalidValueError, match=r"checkpoint: monitor 'val_loss' .*logged: accuracy, epoch, loss"):
        trainer.fit(X, Y)
    assert not (tmp_path / "last.npz").exists()


@pytest.mark.parametrize(
    ("kwargs", "argument", "shown"),
    [
        ({"every_n_epochs": 0}, "every_n_epochs", "0"),
        ({"keep_last": 0}, "keep_last", "0"),
        ({"keep_last": 2.5}, "keep_last", "2.5"),
        ({"mode": "best"}, "mode", "'best'"),
        ({"save_best": 1}, "save_best", "1"),
        ({"directory": ""}, "directory", "''"),
        ({"directory": None}, "directory", "None"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(kwargs, argument, shown):
    with pytest.raises(InvalidValueError) as raised:
        ModelCheckpoint(**kwargs)
    message = str(raised.value)
    assert message.startswith("checkpoint:")
    assert argument in message
    assert shown in message


def test_written_checkpoint_is_loadable_into_fresh_objects(tmp_path):
    trainer = make_trainer([ModelCheckpoint(tmp_path)], epochs=2)
    trainer.fit(X, Y)
    fresh = make_trainer([ModelCheckpoint(tmp_path)], seed=99, epochs=2)
    assert not np.array_equal(fresh.model.state_dict()["0.dense.weight"], trainer.model.state_dict()["0.dense.weight"])
    fresh.load_checkpoint(tmp_path / "last.npz")
    assert_same_weights(fresh.model.state_dict(), trainer.model.state_dict())
