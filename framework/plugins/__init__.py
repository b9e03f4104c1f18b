"""The plugin system: hookspecs in ``framework.hookspecs``, the manager and registries here.

Plugins subclass public base classes: ``framework.Layer``, ``framework.Loss``,
``framework.Optimizer``, ``framework.Initializer``, ``framework.Metric``,
``framework.Schedule``, ``framework.Callback`` and ``framework.data.Dataset``.
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
from framework.plugins.registry import (
    SEPARATOR,
    AmbiguousNameError,
    DuplicateNameError,
    Origin,
    Registry,
    UnknownNameError,
)

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "DISABLE_PLUGINS_ENV",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "SEPARATOR",
    "AmbiguousNameError",
    "DuplicateNameError",
    "FrameworkPluginManager",
    "Origin",
    "PluginError",
    "Plugins",
    "Registry",
    "UnknownNameError",
    "build_plugins",
    "default_plugins",
]
