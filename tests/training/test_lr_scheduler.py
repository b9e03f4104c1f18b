"""LearningRateScheduler: the learning rate each batch trains with, for each built-in
schedule, and reduce-on-plateau reacting to the logs."""

import itertools

import pytest

from framework.core import SGD, InvalidValueError
from framework.training.callbacks import LearningRateScheduler
from framework.training.schedules import (
    Constant,
    CosineWithWarmup,
    ExponentialDecay,
    ReduceOnPlateau,
    StepDecay,
)
from tests.training.helpers import Inject, LearningRates, blobs, make_trainer

X, Y = blobs(40)  # 4 batches of 10
BASE = 0.1


def rates_per_batch(schedule, epochs, *before):
    recorder = LearningRates()
    trainer = make_trainer([*before, LearningRateScheduler(schedule), recorder], epochs=epochs, optimizer=SGD(BASE))
    history = trainer.fit(X, Y)
    return recorder.rates, history


def per_epoch(rates, epochs):
    """The rate of each epoch, checking it is the same for all of its batches."""
    result = []
    for epoch in range(1, epochs + 1):
        values = {rates[(epoch, batch)] for batch in range(4)}
        assert len(values) == 1, f"epoch {epoch} used several rates {values}"
        result.append(values.pop())
    return result


def test_step_decay_multiplies_by_gamma_every_step_size_epochs():
    rates, history = rates_per_batch(StepDecay(step_size=2, gamma=0.5), 5)
    assert per_epoch(rates, 5) == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_exponential_decay_multiplies_by_gamma_every_epoch():
    rates, _ = rates_per_batch(ExponentialDecay(gamma=0.5), 4)
    assert per_epoch(rates, 4) == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_constant_keeps_the_base_rate():
    rates, _ = rates_per_batch(Constant(), 2)
    assert set(rates.values()) == {BASE}


def test_cosine_with_warmup_rises_then_decays_within_epochs():
    schedule = CosineWithWarmup(warmup_epochs=1, min_lr=0.001)
    rates, _ = rates_per_batch(schedule, 3)
    ordered = [rates[key] for key in sorted(rates)]
    # Fractional epochs: batch b of epoch e trains at (e - 1) + b / 4.
    for (epoch, batch), rate in rates.items():
        assert rate == schedule.value((epoch - 1) + batch / 4, BASE, 3)
    warmup, decay = ordered[:4], ordered[4:]
    assert all(a < b for a, b in itertools.pairwise(warmup))
    assert warmup[0] < 0.01 * BASE
    assert decay[0] == pytest.approx(BASE)  # the end of the warm-up is the peak
    assert all(a > b for a, b in itertools.pairwise(decay))
    assert 0.001 < decay[-1] < 0.1 * BASE


def test_reduce_on_plateau_reduces_after_patience_and_not_before():
    schedule = ReduceOnPlateau(monitor="score", factor=0.5, patience=2)
    scores = Inject(score=[1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8])
    rates, _history = rates_per_batch(schedule, 7, scores)
    # Epochs 3 and 4 do not improve on epoch 2: after the second of them patience=2 is
    # reached (as in early stopping), so epoch 5 runs at half the rate; 5 and 6 halve it again.
    assert per_epoch(rates, 7) == pytest.approx([0.1] * 4 + [0.05] * 2 + [0.025])
    assert schedule.state_dict()["scale"] == 0.25


def test_reduce_on_plateau_keeps_the_rate_while_the_value_improves():
    schedule = ReduceOnPlateau(monitor="score", factor=0.5, patience=2)
    # single bad epochs (3 and 5) between improvements never reach patience=2
    rates, _ = rates_per_batch(schedule, 5, Inject(score=[1.0, 0.9, 0.95, 0.8, 0.85]))
    assert set(rates.values()) == {BASE}


def test_reduce_on_plateau_on_a_value_that_is_not_logged_is_a_clear_error():
    with pytest.raises(
        InvalidValueError,
        match=r"reduce_on_plateau schedule: monitor 'val_loss' is not among .*logged: accuracy, epoch, loss, lr, seconds",
    ):
        rates_per_batch(ReduceOnPlateau(), 2)


def test_the_schedule_state_is_the_callback_state():
    schedule = ReduceOnPlateau(monitor="score", factor=0.5, patience=0)
    callback = LearningRateScheduler(schedule)
    make_trainer([Inject(score=[1.0, 2.0]), callback], epochs=2).fit(X, Y)
    state = callback.state_dict()
    assert state == {"scale": 0.5, "best": 1.0, "wait": 0, "cooling": 0}
    other = LearningRateScheduler(ReduceOnPlateau(monitor="score", factor=0.5, patience=0))
    other.load_state_dict(state)
    assert other.schedule.value(0.0, 1.0, 10) == 0.5


@pytest.mark.parametrize("bad", ["cosine", None, CosineWithWarmup])
def test_the_schedule_must_be_a_schedule_instance(bad):
    with pytest.raises(InvalidValueError) as raised:
        LearningRateScheduler(bad)
    message = str(raised.value)
    assert message.startswith("lr_scheduler: schedule must be")
    assert "cosine" in message
    assert repr(bad) in message
