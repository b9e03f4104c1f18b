"""Small checks shared by every component, each raising an error that names
the owner, the argument, the accepted range and the value that came."""

import math
from numbers import Real

import numpy as np

from framework.core.errors import InvalidValueError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_number(owner: str, name: str, value, *, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a float after checking it is a finite real number in range.

    ``low_open``/``high_open`` exclude the bound itself, so ``low=0, low_open=True``
    means "greater than 0".
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise InvalidValueError(f"{owner}: {name} must be a finite number, got {value!r}", name)
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise InvalidValueError(f"{owner}: {name} must be in {interval}, got {value!r}", name)
    return value


def check_positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidValueError(f"{owner}: {name} must be a positive integer, got {value!r}", name)
    return int(value)


def check_bool(owner: str, name: str, value, *, allow_none: bool = False) -> bool | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        accepted = "true, false or null" if allow_none else "true or false"
        raise InvalidValueError(f"{owner}: {name} must be {accepted}, got {value!r}", name)
    return bool(value)


def check_optional_str(owner: str, name: str, value) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidValueError(f"{owner}: {name} must be a string or null, got {value!r}", name)
    return value


def check_float_dtype(owner: str, dtype) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError) as exc:  # numpy parses some strings as Python
        raise InvalidValueError(f"{owner}: dtype must be float32 or float64, got {dtype!r}", "dtype") from exc
    if dtype not in FLOAT_DTYPES:
        raise InvalidValueError(f"{owner}: dtype must be float32 or float64, got {dtype.name}", "dtype")
    return dtype


def first_non_finite(array: np.ndarray) -> tuple[int, ...] | None:
    """Where the first NaN or infinity of ``array`` is, or None."""
    # min and max propagate NaN and reach +-inf: two passes and no temporary array.
    if array.dtype.kind in "fc" and array.size and not (np.isfinite(array.min()) and np.isfinite(array.max())):
        return tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
    return None


def check_finite(owner: str, name: str, array: np.ndarray) -> None:
    """Refuse NaN or infinity, saying where the first one is."""
    bad = first_non_finite(array)
    if bad is not None:
        raise InvalidValueError(
            f"{owner}: {name} contains {array[bad]} at index {bad}; inputs must be finite (clean or impute the data first)"
        )
