"""Metrics have an explicit state API (reset, update, result, state as arrays): any
metric checkpoints mid-epoch and resumes exactly, one whose state is missing is named
when the Trainer is built, and a checkpoint that cannot be written is said as such."""

import numpy as np
import pytest

import framework as fw
from framework.command.entry import _interruption_line
from framework.command.recipe import JobContext
from framework.core.metrics import MetricStateError, confusion_matrix
from framework.plugins import build_plugins
from framework.training.callbacks import ModelCheckpoint


class ConfusionCounts(fw.Metric):
    """Fraction of the diagonal of a running confusion matrix: its state is an array."""

    name = "diagonal"
    state_names = ("matrix",)
    higher_is_better = True

    def reset(self):
        self.matrix = np.zeros((3, 3), dtype=np.int64)

    def update(self, pred, target):
        self.matrix += confusion_matrix(pred, target, 3)

    def result(self):
        return float(np.trace(self.matrix) / max(self.matrix.sum(), 1))


class ArrayTotal(fw.Metric):
    """The default state names, with an array in ``total``: per-class hits."""

    name = "per_class_hits"

    def reset(self):
        self.total, self.count = np.zeros(3), 0

    def update(self, pred, target):
        self.total += np.bincount(target[pred.argmax(axis=1) == target], minlength=3)
        self.count += len(pred)

    def result(self):
        return float(self.total.sum() / max(self.count, 1))


class Hits(fw.Metric):
    """Keeps its sums under other names but leaves ``state_names`` at the default."""

    name = "hits"

    def reset(self):
        self.hits = self.seen = 0

    def update(self, pred, target):
        self.hits += int((pred.argmax(axis=1) == target).sum())
        self.seen += len(pred)


class StopAt(fw.Callback):
    """Ctrl-C at a given batch of a given epoch."""

    name = "stop_at"

    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch = epoch, batch

    def framework_batch_end(self, epoch, batch):
        if (epoch, batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt


class Unstorable(fw.Callback):
    name = "unstorable"

    def state_dict(self):
        return {"opened": object()}


def data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 4))
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)


def trainer(metrics, callbacks=(), plugins=None):
    rng = np.random.default_rng(0)
    model = fw.Sequential([fw.Dense(8), fw.ReLU(), fw.Dense(3)], input_shape=(4,), rng=rng, dtype="float64")
    return fw.Trainer(
        model, fw.SoftmaxCrossEntropy(), fw.Adam(lr=0.01), epochs=3, batch_size=16, metrics=metrics,
        callbacks=list(callbacks), rng=rng, plugins=plugins,
    )  # fmt: skip


@pytest.mark.parametrize("metric_class", [ConfusionCounts, ArrayTotal])
def test_a_metric_with_array_state_checkpoints_mid_epoch_and_resumes_exactly(metric_class, tmp_path):
    x, y = data()
    straight = trainer([metric_class()]).fit(x, y)
    checkpoints = tmp_path / "checkpoints"
    interrupted = trainer([metric_class()], [StopAt(epoch=2, batch=1), ModelCheckpoint(directory=checkpoints)])
    with pytest.raises(KeyboardInterrupt) as caught:
        interrupted.fit(x, y)
    assert caught.value.checkpoint == checkpoints / "last.npz"
    assert not getattr(caught.value, "__notes__", [])
    resumed = trainer([metric_class()], [ModelCheckpoint(directory=checkpoints)])
    history = resumed.fit(x, y, resume_from=checkpoints / "last.npz")
    for name in ("loss", metric_class.name):
        assert history[name] == straight[name]


def test_state_round_trips_as_arrays():
    metric = ConfusionCounts()
    metric.update(np.eye(3)[[0, 1, 2, 2]], np.array([0, 1, 1, 2]))
    state = metric.state_dict()
    assert set(state) == {"matrix"} and isinstance(state["matrix"], np.ndarray)
    other = ConfusionCounts()
    other.load_state_dict(state)
    assert other.result() == metric.result() == 0.75
    state["matrix"][0, 0] = 99
    assert metric.matrix[0, 0] == 1  # state_dict gives copies


def test_a_metric_whose_state_is_missing_is_named_when_the_trainer_is_built():
    plugin = type("MetricPlugin", (), {"framework_register_metrics": lambda self: [Hits]})()
    plugins = build_plugins(autoload=False, extra=[plugin])
    with pytest.raises(MetricStateError) as caught:
        trainer([Hits()], plugins=plugins)
    message = str(caught.value)
    assert message.startswith("metric 'hits' from plugin 'extra-0-MetricPlugin' (registered in code): Hits ('hits'):")
    assert "reset() sets no attribute 'total'" in message and "state_names" in message


def test_a_checkpoint_that_cannot_be_written_is_reported_not_reworded(tmp_path):
    x, y = data()
    callbacks = [StopAt(epoch=1, batch=1), Unstorable(), ModelCheckpoint(directory=tmp_path / "checkpoints")]
    with pytest.raises(KeyboardInterrupt) as caught:
        trainer([], callbacks).fit(x, y)
    line = _interruption_line(caught.value, JobContext())
    assert line.startswith(
        "KeyboardInterrupt; no checkpoint was written; while reporting it, a framework_exception hook failed: "
        "callback 'checkpoint' failed in framework_exception: TypeError: cannot store object in a checkpoint manifest"
    )
    assert "enable callbacks.checkpoint" not in line


def test_without_a_checkpoint_callback_the_advice_stays():
    assert _interruption_line(KeyboardInterrupt(), JobContext()) == (
        "KeyboardInterrupt; no checkpoint was written (enable callbacks.checkpoint)"
    )
