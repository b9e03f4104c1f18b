"""Lifecycle hooks reach both kinds of implementation the docs describe: plain
hookimpls of a plugin (every run) and a configured Callback's methods (its run),
callbacks first; an implementation takes any subset of the spec's arguments."""

import numpy as np
import pytest

import framework as fw
from framework import Callback, hookimpl
from framework.plugins import PluginError, build_plugins
from framework.training.trainer import Trainer

LIFECYCLE = (
    "framework_fit_start",
    "framework_epoch_start",
    "framework_batch_start",
    "framework_batch_end",
    "framework_validation_end",
    "framework_epoch_end",
    "framework_fit_end",
    "framework_exception",
)


class RecordingPlugin:
    """Plain hook implementations, each taking only some of its arguments."""

    __name__ = "recording_plugin"

    def __init__(self, calls):
        self.calls = calls

    @hookimpl
    def framework_fit_start(self, trainer):
        self.calls.append(("plugin", "fit_start"))

    @hookimpl
    def framework_epoch_start(self, epoch):
        self.calls.append(("plugin", "epoch_start", epoch))

    @hookimpl
    def framework_batch_start(self, batch):
        self.calls.append(("plugin", "batch_start", batch))

    @hookimpl
    def framework_batch_end(self, loss, batch):
        assert isinstance(loss, float)
        self.calls.append(("plugin", "batch_end", batch))

    @hookimpl
    def framework_validation_end(self, metrics):
        metrics["val_added_by_plugin"] = 1.0
        self.calls.append(("plugin", "validation_end"))

    @hookimpl
    def framework_epoch_end(self, epoch, logs):
        logs["added_by_plugin"] = epoch
        self.calls.append(("plugin", "epoch_end", epoch))

    @hookimpl
    def framework_fit_end(self, history):
        self.calls.append(("plugin", "fit_end", len(history)))

    @hookimpl
    def framework_exception(self, error):
        self.calls.append(("plugin", "exception", type(error).__name__))


class RecordingCallback(Callback):
    name = "recording"

    def __init__(self, calls, fail_at_batch=None):
        self.calls, self.fail_at_batch = calls, fail_at_batch

    def framework_fit_start(self):
        self.calls.append(("callback", "fit_start"))

    def framework_epoch_start(self, trainer, epoch):
        self.calls.append(("callback", "epoch_start", epoch))

    def framework_batch_start(self, trainer, epoch, batch):
        self.calls.append(("callback", "batch_start", batch))

    def framework_batch_end(self, batch):
        self.calls.append(("callback", "batch_end", batch))
        if batch == self.fail_at_batch:
            raise RuntimeError("stop here")

    def framework_validation_end(self):
        self.calls.append(("callback", "validation_end"))

    def framework_epoch_end(self, epoch, logs):
        self.calls.append(("callback", "epoch_end", epoch))

    def framework_fit_end(self, trainer, history):
        self.calls.append(("callback", "fit_end", len(history)))

    def framework_exception(self, trainer, error):
        self.calls.append(("callback", "exception", type(error).__name__))


def fit(calls, *, fail_at_batch=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    plugins = build_plugins(autoload=False, extra=[RecordingPlugin(calls)])
    model = fw.Sequential([fw.Dense(2)], input_shape=(2,), rng=rng)
    trainer = Trainer(
        model,
        fw.SoftmaxCrossEntropy(),
        fw.SGD(lr=0.1),
        epochs=2,
        batch_size=4,
        callbacks=[RecordingCallback(calls, fail_at_batch)],
        rng=rng,
        plugins=plugins,
    )
    return trainer, trainer.fit(x, y, validation_data=(x, y))


def test_order_and_callbacks_before_plugins():
    calls = []
    _, history = fit(calls)
    expected = [("fit_start",)]
    for epoch in (1, 2):
        expected.append(("epoch_start", epoch))
        for batch in (0, 1):
            expected += [("batch_start", batch), ("batch_end", batch)]
        expected += [("validation_end",), ("epoch_end", epoch)]
    expected.append(("fit_end", 2))
    assert calls == [(who, *event) for event in expected for who in ("callback", "plugin")]
    assert history["added_by_plugin"] == [1, 2]
    assert history["val_added_by_plugin"] == [1.0, 1.0]


def test_exception_instead_of_fit_end():
    calls = []
    with pytest.raises(PluginError, match="failed in framework_batch_end: RuntimeError: stop here") as raised:
        fit(calls, fail_at_batch=1)
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert calls[-2:] == [("callback", "exception", "PluginError"), ("plugin", "exception", "PluginError")]
    assert not any(event[1] == "fit_end" for event in calls)


def test_every_lifecycle_hook_is_covered_here():
    from framework import hookspecs

    specs = {
        name for name in vars(hookspecs) if name.startswith("framework_") and not name.startswith("framework_register_")
    }
    assert specs - {"framework_config_dirs"} == set(LIFECYCLE)
    for name in LIFECYCLE:
        assert hasattr(RecordingPlugin, name) and hasattr(RecordingCallback, name)


def test_callback_is_unregistered_after_fit():
    calls = []
    trainer, _ = fit(calls)
    names = [name for name, plugin in trainer.hook_manager.list_name_plugin() if plugin is not None]
    assert not any(name.startswith("callback:") for name in names)
