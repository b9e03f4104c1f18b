"""The lifecycle hooks: exact order in a fit, the exception hook instead of fit_end,
callbacks called in the order given, and the built-in callbacks' registration."""

import pytest

from framework.core.errors import InvalidValueError
from framework.plugins import PluginError
from framework.plugins.manager import build_plugins
from framework.training.callbacks import (
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    NaNGuard,
    ProgressBar,
)
from tests.training.helpers import RaiseAt, Recorder, blobs, make_trainer


def expected_fit_calls(epochs: int, batches: int, tag: str = "recorder") -> list[tuple]:
    calls = [(tag, "fit_start", None, None)]
    for epoch in range(1, epochs + 1):
        calls.append((tag, "epoch_start", epoch, None))
        for batch in range(batches):
            calls += [(tag, "batch_start", epoch, batch), (tag, "batch_end", epoch, batch)]
        calls += [(tag, "validation_end", epoch, None), (tag, "epoch_end", epoch, None)]
    return [*calls, (tag, "fit_end", None, None)]


def test_hooks_are_called_in_the_documented_order():
    x, y = blobs(30)  # 3 batches of 10
    recorder = Recorder()
    make_trainer([recorder], epochs=2, batch_size=10).fit(x, y, validation_data=blobs(12, seed=1))
    assert recorder.calls == expected_fit_calls(epochs=2, batches=3)


def test_without_validation_data_there_is_no_validation_hook():
    x, y = blobs(20)
    recorder = Recorder()
    make_trainer([recorder], epochs=1, batch_size=10).fit(x, y)
    assert [hook for _, hook, _, _ in recorder.calls] == [
        "fit_start",
        "epoch_start",
        "batch_start",
        "batch_end",
        "batch_start",
        "batch_end",
        "epoch_end",
        "fit_end",
    ]


def test_an_error_calls_the_exception_hook_instead_of_fit_end_and_is_reraised():
    x, y = blobs(30)
    recorder = Recorder()
    error = RuntimeError("boom")
    trainer = make_trainer([recorder, RaiseAt(error, epoch=2, batch=1)], epochs=2, batch_size=10)
    with pytest.raises(
        PluginError, match=r"^callback 'raise_at' failed in framework_batch_end: RuntimeError: boom$"
    ) as raised:
        trainer.fit(x, y, validation_data=blobs(12, seed=1))
    assert raised.value.__cause__ is error
    full = expected_fit_calls(epochs=2, batches=3)
    stop = full.index(("recorder", "batch_end", 2, 1)) + 1
    assert recorder.calls == [*full[:stop], ("recorder", "exception", None, None)]
    assert recorder.errors == [raised.value]


def test_the_framework_s_own_errors_from_hooks_pass_unchanged():
    x, y = blobs(30)
    error = InvalidValueError("a deliberate, already clear message")
    trainer = make_trainer([RaiseAt(error, epoch=1, batch=0)], epochs=1, batch_size=10)
    with pytest.raises(InvalidValueError) as raised:
        trainer.fit(x, y)
    assert raised.value is error


def test_a_failing_exception_hook_does_not_hide_the_original_error():
    class BrokenReporter(Recorder):
        def framework_exception(self, trainer, error):
            raise OSError("disk full")

    x, y = blobs(20)
    trainer = make_trainer([BrokenReporter(), RaiseAt(ValueError("original"), epoch=1, batch=0)], epochs=1)
    with pytest.raises(
        PluginError, match="callback 'raise_at' failed in framework_batch_end: ValueError: original"
    ) as raised:
        trainer.fit(x, y)
    notes = raised.value.__notes__
    assert any("callback 'recorder' failed in framework_exception: OSError: disk full" in note for note in notes)


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")])
def test_callbacks_run_in_the_order_given(order):
    calls = []
    x, y = blobs(20)
    make_trainer([Recorder(calls, tag) for tag in order], epochs=1, batch_size=10).fit(x, y)
    first, second = order
    assert [tag for tag, *_ in calls] == [first, second] * (len(calls) // 2)
    assert calls[0::2] == [(first, *rest) for _, *rest in calls[1::2]]


def test_callbacks_are_unregistered_after_fit_even_when_it_fails():
    x, y = blobs(20)
    plugins = build_plugins(autoload=False)
    recorder = Recorder()
    make_trainer([recorder], epochs=1, plugins=plugins).fit(x, y)
    assert not plugins.manager.is_registered(recorder)
    failing = make_trainer([recorder, RaiseAt(RuntimeError(), epoch=1, batch=0)], epochs=1, plugins=plugins)
    with pytest.raises(RuntimeError):
        failing.fit(x, y)
    assert not plugins.manager.is_registered(recorder)
    recorder.calls.clear()
    make_trainer([recorder], epochs=1, plugins=plugins).fit(x, y)  # no duplicate calls from a stale registration
    assert len(recorder.calls) == len(set(recorder.calls))


def test_the_built_in_callbacks_are_registered_by_name():
    registry = build_plugins(autoload=False).registry("callback")
    assert registry.get("early_stopping") is EarlyStopping
    assert registry.get("checkpoint") is ModelCheckpoint
    assert registry.get("nan_guard") is NaNGuard
    assert registry.get("lr_scheduler") is LearningRateScheduler
    assert registry.get("progress") is ProgressBar


def test_callbacks_run_through_a_full_plugin_manager():
    calls = []
    x, y = blobs(20)
    plugins = build_plugins(autoload=False)
    make_trainer([Recorder(calls)], epochs=1, plugins=plugins).fit(x, y)
    assert calls == [c for c in expected_fit_calls(1, 2) if c[1] != "validation_end"]
