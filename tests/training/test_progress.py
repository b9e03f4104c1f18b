"""ProgressBar: a bar on a terminal, only the per-epoch summary lines otherwise."""

import io
import logging
import sys

import pytest

from framework.core import InvalidValueError
from framework.training.callbacks import ProgressBar
from framework.training.callbacks.progress import format_logs
from tests.training.helpers import blobs, make_trainer

X, Y = blobs(30)
VALIDATION = blobs(12, seed=1)


def summary_lines(text):
    return [line for line in text.splitlines() if line.startswith("epoch ") and " - loss " in line]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_when_stdout_is_not_a_terminal_only_summary_lines_are_printed(capsys):
    bar = ProgressBar()
    history = make_trainer([bar], epochs=3).fit(X, Y, validation_data=VALIDATION)
    out = capsys.readouterr().out
    assert out.splitlines() == summary_lines(out)
    assert len(out.splitlines()) == 3
    assert "\r" not in out
    first = out.splitlines()[0]
    assert first.startswith("epoch 1/3 - loss ")
    assert f"val_accuracy {history['val_accuracy'][0]:.4g}" in first
    assert "lr 0.01" in first


def test_outside_the_command_summary_lines_stay_on_stdout_when_a_script_sets_up_logging(capsys, caplog):
    """A script's logging.basicConfig(level=INFO) must not move the lines to its log stream."""
    caplog.set_level(logging.INFO)
    make_trainer([ProgressBar()], epochs=2).fit(X, Y)
    assert len(summary_lines(capsys.readouterr().out)) == 2
    assert not [r for r in caplog.records if r.name == "framework"]


def test_on_a_terminal_a_bar_is_drawn_as_well(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    make_trainer([ProgressBar()], epochs=2).fit(X, Y)
    out = terminal.getvalue()
    assert "\r" in out  # tqdm redraws its line
    assert "epoch 1/2:" in out
    assert "0/3" in out  # 3 batches per epoch
    assert len(summary_lines(out.replace("\r", "\n"))) == 2


def test_enabled_true_forces_the_bar_and_false_disables_it(monkeypatch):
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stdout", pipe)
    make_trainer([ProgressBar(enabled=True)], epochs=1).fit(X, Y)
    assert "\r" in pipe.getvalue()
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    make_trainer([ProgressBar(enabled=False)], epochs=1).fit(X, Y)
    assert "\r" not in terminal.getvalue()
    assert len(terminal.getvalue().splitlines()) == 1


def test_format_logs_shows_every_logged_value():
    line = format_logs(2, 10, {"epoch": 2, "loss": 0.123456, "val_loss": 0.5, "lr": 0.001, "seconds": 1.26})
    assert line == "epoch 2/10 - loss 0.1235 - val_loss 0.5 - lr 0.001 - 1.3s"


@pytest.mark.parametrize("bad", ["yes", 1, "auto"])
def test_enabled_must_be_a_bool_or_none(bad):
    with pytest.raises(InvalidValueError, match=rf"progress: enabled must be true, false or null, got {bad!r}"):
        ProgressBar(enabled=bad)


def test_the_bar_shows_the_running_mean_loss(monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    trainer = make_trainer(epochs=1)
    trainer._check_data("training", X, Y)  # what fit does first: the trainer learns the batch count
    bar = ProgressBar(enabled=True)
    bar.framework_fit_start(trainer)
    bar.framework_epoch_start(trainer, epoch=1)
    bar.framework_batch_end(trainer, epoch=1, batch=0, loss=1.0)
    bar.framework_batch_end(trainer, epoch=1, batch=1, loss=3.0)
    assert bar._bar.n == 2
    assert bar._bar.postfix == "loss=2.0000"
    bar.framework_exception(trainer, KeyboardInterrupt())
    assert bar._bar is None
