"""Watching a logged value (shared by callbacks and schedules), and the checks they share."""

import math
from numbers import Integral

from framework.core.errors import InvalidValueError

MODES = ("min", "max", "auto")


def check_choice(owner: str, name: str, value, choices: tuple) -> str:
    if not isinstance(value, str) or value not in choices:
        accepted = ", ".join(repr(choice) for choice in choices)
        raise InvalidValueError(f"{owner}: {name} must be one of {accepted}, got {value!r}", name)
    return value


def check_non_negative_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise InvalidValueError(f"{owner}: {name} must be an integer >= 0, got {value!r}", name)
    return int(value)


def check_optional_positive_int(owner: str, name: str, value, none_means: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise InvalidValueError(
            f"{owner}: {name} must be a positive integer or None ({none_means}), got {value!r}", name
        )
    return int(value)


def check_monitor(owner: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError(
            f"{owner}: monitor must be the name of a logged value (e.g. 'val_loss', 'val_accuracy'), got {value!r}",
            "monitor",
        )
    return value


def resolve_mode(monitor: str, mode: str, trainer) -> str:
    """``"min"`` or ``"max"``. In ``"auto"`` mode, a metric's ``higher_is_better`` decides
    (the trainer's metrics first, then the core's); otherwise names containing
    "accuracy" are maximized and everything else (losses, errors) minimized."""
    if mode != "auto":
        return mode
    base = monitor
    for prefix in ("val_", "test_"):
        if base.startswith(prefix):
            base = base[len(prefix) :]
            break
    from framework.core.metrics import METRICS

    candidates = [type(metric) for metric in getattr(trainer, "metrics", ())] + list(METRICS)
    for cls in candidates:
        if cls.name == base:
            return "max" if cls.higher_is_better else "min"
    return "max" if "accuracy" in monitor else "min"


def monitored_value(owner: str, monitor: str, logs: dict) -> float:
    if monitor not in logs:
        hint = " (val_ entries need validation data passed to fit)" if monitor.startswith("val_") else ""
        raise InvalidValueError(
            f"{owner}: monitor {monitor!r} is not among the values logged this epoch{hint}; "
            f"logged: {', '.join(sorted(logs))}",
            "monitor",
        )
    return float(logs[monitor])


def is_improvement(current: float, best: float | None, mode: str, min_delta: float) -> bool:
    """Whether ``current`` beats ``best`` by more than ``min_delta``; a non-finite value never does."""
    if not math.isfinite(current):
        return False
    if best is None:
        return True
    return current < best - min_delta if mode == "min" else current > best + min_delta
