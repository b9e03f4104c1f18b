"""One ``__repr__`` for every configurable component: the class name and the
arguments that differ from their defaults, e.g. ``Dense(units=16)``."""

import inspect


def constructor_defaults(cls) -> dict:
    """Default values of keyword arguments, following ``**kwargs`` into base classes."""
    defaults: dict = {}
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None or init is object.__init__:
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.default is not inspect.Parameter.empty:
                defaults.setdefault(parameter.name, parameter.default)
    return defaults


def describe(component) -> str:
    defaults = constructor_defaults(type(component))
    missing = object()
    shown = [f"{key}={value!r}" for key, value in component.get_config().items() if defaults.get(key, missing) != value]
    return f"{type(component).__name__}({', '.join(shown)})"
