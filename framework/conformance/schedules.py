"""``check_schedule``: learning rates a schedule gives, and its config and state round trips."""

import math

from framework.conformance._assert import assert_same_state, fail, label
from framework.training.schedules import Schedule


def check_schedule(schedule: Schedule, *, base_lr: float = 0.1, epochs: int = 10) -> None:
    """Check ``schedule``:

    - it subclasses ``framework.Schedule``;
    - ``value(epoch, base_lr, epochs)`` is a finite, non-negative float at every quarter
      epoch from 0 to ``epochs`` (``observe`` is called after each whole epoch);
    - ``type(s)(**s.get_config())`` rebuilds an equal config, and its state round-trips
      through ``state_dict``/``load_state_dict``.
    """
    owner = label(schedule)
    if not isinstance(schedule, Schedule):
        fail(owner, "does not subclass framework.Schedule")
    for quarter in range(4 * epochs + 1):
        epoch = quarter / 4
        value = schedule.value(epoch, base_lr, epochs)
        if not isinstance(value, float) or not math.isfinite(value) or value < 0:
            fail(owner, f"value({epoch}, {base_lr}, {epochs}) returned {value!r}; return a finite float >= 0")
        if quarter % 4 == 0 and epoch >= 1:
            watched = {name: 1.0 for name in schedule.monitors().values()}
            schedule.observe(int(epoch), {"loss": 1.0 / epoch, "val_loss": 1.0, **watched})
    clone = type(schedule)(**schedule.get_config())
    if clone.get_config() != schedule.get_config():
        fail(owner, f"config does not round-trip: {schedule.get_config()} -> {clone.get_config()}")
    clone.load_state_dict(schedule.state_dict())
    assert_same_state(owner, schedule.state_dict(), clone.state_dict(), "load_state_dict(state_dict())")
