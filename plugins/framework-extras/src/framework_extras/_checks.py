"""Hyperparameter checks that raise ``framework.InvalidValueError`` naming the
owner, the argument, the accepted range and the value that came."""

import math
from numbers import Real

from framework import InvalidValueError


def check_number(owner: str, name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """``value`` as a float, after checking it is a finite real number in range.

    ``low_open``/``high_open`` exclude the bound itself (``low=0, low_open=True``: greater than 0).
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise InvalidValueError(f"{owner}: {name} must be a finite number, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise InvalidValueError(f"{owner}: {name} must be in {interval}, got {value!r}")
    return value


def check_positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def check_bool(owner: str, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise InvalidValueError(f"{owner}: {name} must be true or false, got {value!r}")
    return value
