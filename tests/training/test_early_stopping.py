"""EarlyStopping: when it stops and when it must not, mode resolution, restoring the
best weights, and a clear error for a value that is not logged."""

import numpy as np
import pytest

from framework.core import InvalidValueError, Metric
from framework.training.callbacks import EarlyStopping
from tests.training.helpers import EpochWeights, Inject, assert_same_weights, blobs, make_trainer

X, Y = blobs(30)


def fit_scripted(stopper, epochs=6, **values):
    trainer = make_trainer([Inject(**values), stopper], epochs=epochs)
    history = trainer.fit(X, Y)
    return trainer, history


def test_stops_after_patience_epochs_without_improvement():
    stopper = EarlyStopping(monitor="score", mode="min", patience=2)
    _trainer, history = fit_scripted(stopper, score=[1.0, 0.5, 0.6, 0.7, 0.4, 0.3])
    assert len(history) == 4  # epochs 3 and 4 did not improve on epoch 2
    assert history.stop_reason == "early_stopped"
    assert (stopper.best, stopper.best_epoch, stopper.stopped_epoch) == (0.5, 2, 4)


def test_does_not_stop_while_improvements_come_within_patience():
    stopper = EarlyStopping(monitor="score", mode="min", patience=2)
    _, history = fit_scripted(stopper, score=[1.0, 0.5, 0.6, 0.4, 0.45, 0.3])
    assert len(history) == 6
    assert history.stop_reason == "completed"
    assert stopper.stopped_epoch == 0


def test_patience_zero_stops_at_the_first_epoch_without_improvement():
    _, history = fit_scripted(EarlyStopping(monitor="score", mode="min", patience=0), score=[3, 2, 2, 1, 0, 0])
    assert len(history) == 3


def test_an_improvement_smaller_than_min_delta_does_not_count():
    scores = [1.0, 0.95, 0.9, 0.85, 0.8, 0.75]
    _, strict = fit_scripted(EarlyStopping(monitor="score", mode="min", patience=2, min_delta=0.1), score=scores)
    _, lenient = fit_scripted(EarlyStopping(monitor="score", mode="min", patience=2, min_delta=0.01), score=scores)
    assert len(strict) == 3
    assert len(lenient) == 6


def test_max_mode_stops_when_the_value_stops_rising():
    _, history = fit_scripted(
        EarlyStopping(monitor="score", mode="max", patience=1), score=[0.1, 0.2, 0.3, 0.2, 0.5, 0.6]
    )
    assert len(history) == 4


class F1(Metric):
    name = "f1"
    higher_is_better = True

    def update(self, pred, target):
        self.total, self.count = self.total + 1, self.count + 1


@pytest.mark.parametrize(
    ("monitor", "metrics", "expected"),
    [
        ("val_loss", [], "min"),
        ("val_accuracy", [], "max"),
        ("train_accuracy_top", [], "max"),
        ("val_mse", [], "min"),
        ("val_f1", [F1()], "max"),
        ("f1", [F1()], "max"),
    ],
)
def test_auto_mode_follows_the_metric(monitor, metrics, expected):
    stopper = EarlyStopping(monitor=monitor, patience=1)
    trainer = make_trainer([stopper], epochs=1, metrics=metrics)
    stopper.framework_fit_start(trainer)
    assert stopper.resolved_mode == expected


def test_auto_mode_keeps_training_while_accuracy_rises():
    rising = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    _, auto = fit_scripted(EarlyStopping(monitor="val_accuracy", patience=1), val_accuracy=rising)
    _, wrong = fit_scripted(EarlyStopping(monitor="val_accuracy", mode="min", patience=1), val_accuracy=rising)
    assert len(auto) == 6
    assert len(wrong) == 2


@pytest.mark.parametrize("restore", [True, False])
def test_restore_best_weights_puts_back_the_best_epochs_weights(restore):
    snapshots = EpochWeights()
    stopper = EarlyStopping(monitor="score", mode="min", patience=2, restore_best_weights=restore)
    trainer = make_trainer([Inject(score=[1.0, 0.5, 0.6, 0.7, 0.1, 0.1]), stopper, snapshots], epochs=6)
    trainer.fit(X, Y)
    assert sorted(snapshots.snapshots) == [1, 2, 3, 4]
    final = trainer.model.state_dict()
    kept = snapshots.snapshots[2] if restore else snapshots.snapshots[4]
    other = snapshots.snapshots[4] if restore else snapshots.snapshots[2]
    assert_same_weights(final, kept)
    assert not all(np.array_equal(final[k], other[k]) for k in final)


def test_a_monitor_that_is_not_logged_is_a_clear_error():
    trainer = make_trainer([EarlyStopping()], epochs=2)  # monitors val_loss, but no validation data
    with pytest.raises(InvalidValueError) as raised:
        trainer.fit(X, Y)
    message = str(raised.value)
    assert "early_stopping" in message
    assert "'val_loss'" in message
    assert "validation data" in message
    for key in ("accuracy", "epoch", "loss", "lr", "seconds"):
        assert key in message


def test_state_round_trips_with_best_weights_as_arrays():
    stopper = EarlyStopping(monitor="score", mode="min", patience=5, restore_best_weights=True)
    fit_scripted(stopper, epochs=3, score=[1.0, 0.5, 0.7])
    state = stopper.state_dict()
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    assert arrays and all(k.startswith("best_weights/") for k in arrays)
    assert (state["best"], state["best_epoch"], state["wait"]) == (0.5, 2, 1)
    clone = EarlyStopping(monitor="score", mode="min", patience=5, restore_best_weights=True)
    clone.load_state_dict(state)
    assert clone.state_dict().keys() == state.keys()
    assert_same_weights(clone.best_weights, stopper.best_weights)


@pytest.mark.parametrize(
    ("kwargs", "argument", "shown"),
    [
        ({"mode": "up"}, "mode", "'up'"),
        ({"patience": -1}, "patience", "-1"),
        ({"patience": 1.5}, "patience", "1.5"),
        ({"min_delta": -0.1}, "min_delta", "-0.1"),
        ({"monitor": ""}, "monitor", "''"),
        ({"restore_best_weights": "yes"}, "restore_best_weights", "'yes'"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(kwargs, argument, shown):
    with pytest.raises(InvalidValueError) as raised:
        EarlyStopping(**kwargs)
    message = str(raised.value)
    assert message.startswith("early_stopping:")
    assert argument in message
    assert shown in message
    if argument == "mode":
        assert "'min', 'max', 'auto'" in message
