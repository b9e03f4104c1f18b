"""One ``__repr__`` for every configurable component: the class name and the
arguments that differ from their defaults, e.g. ``Dense(units=16)``."""

import inspect


def describe(component) -> str:
    try:
        signature = inspect.signature(type(component).__init__)
    except (TypeError, ValueError):
        signature = None
    shown = []
    for key, value in component.get_config().items():
        parameter = signature.parameters.get(key) if signature else None
        if parameter is not None and parameter.default is not inspect.Parameter.empty and parameter.default == value:
            continue
        shown.append(f"{key}={value!r}")
    return f"{type(component).__name__}({', '.join(shown)})"
