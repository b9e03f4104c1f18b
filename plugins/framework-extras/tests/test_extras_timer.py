import framework as fw
import numpy as np
import pytest
from framework.plugins import build_plugins
from framework.testing import check_callback, check_config_round_trip

from framework_extras import Timer


class FakeHistory:
    """What ``framework_fit_end`` receives: a column lookup and a length."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __getitem__(self, key):
        return [record[key] for record in self.epochs]

    def __len__(self):
        return len(self.epochs)


def run(hook, epochs=2, batches=3):
    """Call the lifecycle hooks in the trainer's order; return every epoch's logs."""
    hook.framework_fit_start(trainer=None, run=None)
    records = []
    for epoch in range(1, epochs + 1):
        hook.framework_epoch_start(trainer=None, epoch=epoch)
        for batch in range(batches):
            hook.framework_batch_start(trainer=None, epoch=epoch, batch=batch)
            hook.framework_batch_end(trainer=None, epoch=epoch, batch=batch, loss=1.0)
        logs = {"epoch": epoch, "loss": 1.0}
        hook.framework_epoch_end(trainer=None, epoch=epoch, logs=logs)
        records.append(logs)
    hook.framework_fit_end(trainer=None, history=FakeHistory(records))
    return records


@pytest.fixture
def hook_with_timer():
    """A plugin manager with the timer registered, as the trainer does during ``fit``:
    registering checks its methods against the hookspecs."""
    plugins = build_plugins(autoload=False)
    timer = Timer()
    plugins.manager.register(timer, name="callback:timer")
    return plugins.hook, timer


def test_adds_timing_to_every_epoch(hook_with_timer, capsys):
    hook, timer = hook_with_timer
    records = run(hook, epochs=3)
    for record in records:
        assert record["time_per_batch"] >= 0.0
        assert np.isfinite(record["time_per_batch"])
    elapsed = [record["time_elapsed"] for record in records]
    assert elapsed == sorted(elapsed)
    assert timer.elapsed == elapsed[-1]
    out = capsys.readouterr().out
    assert out.startswith("timer: 3 epochs in ") and "ms per batch" in out
    assert timer.summary in out
    assert set(records[0]) - {"epoch", "loss"} == set(timer.logged_values())  # so runs may monitor them


def test_quiet(capsys):
    plugins = build_plugins(autoload=False)
    timer = Timer(verbose=False)
    plugins.manager.register(timer, name="callback:timer")
    run(plugins.hook, epochs=1)
    assert capsys.readouterr().out == ""
    assert timer.summary.startswith("timer: 1 epochs")


def test_elapsed_continues_after_resume():

    resumed = Timer(verbose=False)
    resumed.load_state_dict({"elapsed": 100.0})
    resumed.framework_fit_start()
    logs = {}
    resumed.framework_epoch_end(logs)
    assert logs["time_elapsed"] >= 100.0
    assert resumed.state_dict() == {"elapsed": logs["time_elapsed"]}


def test_refuses_bad_option():
    with pytest.raises(fw.InvalidValueError, match="verbose"):
        Timer(verbose="yes")


def test_config_round_trip():
    check_config_round_trip(Timer(verbose=False))


def test_conformance():
    check_callback(Timer(verbose=False))
