"""The plugin system: hookspecs in ``framework.hookspecs``, the manager and registries here.

Also the base classes a plugin subclasses that are not top-level ``framework``
names: ``Callback`` and ``Schedule``, and ``Dataset`` with its ``RawData``
(imported on first use: the data package is slow to import).
"""

from framework.plugins.manager import (
    BUILTIN_PLUGINS,
    DISABLE_AUTOLOAD_ENV,
    DISABLE_PLUGINS_ENV,
    ENTRY_POINT_GROUP,
    KINDS,
    FrameworkPluginManager,
    PluginError,
    Plugins,
    build_plugins,
    default_plugins,
)
from framework.plugins.registry import DuplicateNameError, Origin, Registry, UnknownNameError
from framework.training.callback import Callback
from framework.training.schedules import Schedule

_DATA_EXPORTS = ("Dataset", "RawData")


def __getattr__(name: str):
    if name in _DATA_EXPORTS:
        from framework.data import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "DISABLE_PLUGINS_ENV",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "Callback",
    "Dataset",
    "DuplicateNameError",
    "FrameworkPluginManager",
    "Origin",
    "PluginError",
    "Plugins",
    "RawData",
    "Registry",
    "Schedule",
    "UnknownNameError",
    "build_plugins",
    "default_plugins",
]
