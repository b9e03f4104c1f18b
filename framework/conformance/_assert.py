"""What every check of the kit shares: a failure is an ``AssertionError`` naming the component."""

import numpy as np


def fail(owner: str, problem: str) -> None:
    raise AssertionError(f"{owner}: {problem}")


def label(component) -> str:
    """``MacroF1 ('macro_f1')``: the class and the registry name a check's message names."""
    name = getattr(component, "name", "")
    return f"{type(component).__name__} ({name!r})" if name else type(component).__name__


def assert_same_state(owner: str, expected: dict, actual: dict, what: str) -> None:
    """Two state dicts hold the same keys and equal values (arrays compared exactly)."""
    if set(expected) != set(actual):
        fail(owner, f"{what}: keys {sorted(actual)} after the round trip, {sorted(expected)} before")
    for key, value in expected.items():
        if not np.array_equal(np.asarray(value), np.asarray(actual[key])):
            fail(owner, f"{what}: {key!r} is {actual[key]!r} after the round trip, {value!r} before")
