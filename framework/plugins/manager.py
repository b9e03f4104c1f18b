"""Builds the plugin manager in one visible order, like pytest and pluggy's own
example: add the hookspecs, register the built-in plugins, load the entry points
of installed distributions, check every implementation against its spec. Then
the registration hooks fill one registry per kind of component.
"""

import difflib
import functools
import inspect
import os
import re
import traceback
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path

import pluggy

import framework
from framework.plugins.registry import BUILTIN_NAMESPACE, SEPARATOR, Entry, Origin, Registry
from framework.training import hookspecs
from framework.training.hooks import FrameworkPluginManager, PluginError

ENTRY_POINT_GROUP = "framework"
DISABLE_AUTOLOAD_ENV = "FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD"
DISABLE_PLUGINS_ENV = "FRAMEWORK_DISABLE_PLUGINS"

#: The framework's own features, registered exactly as third-party plugins are.
BUILTIN_PLUGINS = (
    "framework.builtin.components",
    "framework.builtin.metrics",
    "framework.builtin.schedules",
    "framework.builtin.callbacks",
    "framework.builtin.datasets",
    "framework.builtin.tracking",
)

#: Registration hook -> registry kind (singular, as used in messages).
KINDS = {
    "framework_register_layers": "layer",
    "framework_register_losses": "loss",
    "framework_register_optimizers": "optimizer",
    "framework_register_schedules": "schedule",
    "framework_register_callbacks": "callback",
    "framework_register_datasets": "dataset",
    "framework_register_metrics": "metric",
    "framework_register_initializers": "initializer",
}


@dataclass
class Plugins:
    """The plugin manager, where each plugin came from, and the registries."""

    manager: FrameworkPluginManager
    origins: dict[str, Origin] = field(default_factory=dict)
    registries: dict[str, Registry] = field(default_factory=dict)

    def registry(self, kind: str) -> Registry:
        return self.registries[kind]

    def get(self, kind: str, name: str) -> type:
        return self.registries[kind].get(name)

    @property
    def hook(self):
        return self.manager.hook

    def config_dirs(self) -> list[Path]:
        dirs = []
        for impl in self.manager.hook.framework_config_dirs.get_hookimpls():
            for entry in _call_registration(impl, self.origins[impl.plugin_name], "framework_config_dirs"):
                path = Path(entry)
                if not path.is_dir():
                    origin = self.origins[impl.plugin_name]
                    problem = "is not a directory" if path.exists() else "does not exist"
                    raise PluginError(
                        f"{origin}: config directory {path} from framework_config_dirs {problem}; "
                        f"{_repair_hint(origin.plugin, origin)}"
                    )
                dirs.append(path)
        return dirs

    def origin_of(self, kind: str, component) -> Origin | None:
        """The plugin that registered ``component``'s class under its name (None for a class
        no plugin registered, or one that only shares a registered name)."""
        entry = self._entry_of(kind, component)
        return None if entry is None else entry.origin

    def qualified_name(self, kind: str, component) -> str | None:
        """``contrib:adagrad`` for an instance of the class plugin ``contrib`` registered as ``adagrad``."""
        entry = self._entry_of(kind, component)
        return None if entry is None else entry.qualified

    def _entry_of(self, kind: str, component) -> Entry | None:
        registry = self.registries.get(kind)
        return None if registry is None else registry.entry_of_class(type(component))

    def describe(self, kind: str, component) -> str:
        """How messages name a component: ``callback 'timer' from plugin 'extras' (framework-extras 0.1.0)``."""
        described = f"{kind} {getattr(component, 'name', '') or type(component).__name__!r}"
        origin = self.origin_of(kind, component)
        return described if origin is None else f"{described} from {origin}"

    def component_at_fault(self, error: BaseException) -> str | None:
        """How messages name the plugin component whose code raised ``error``: of the frames
        from the caller to the raise, the nearest to the raise that runs a method of a class a
        plugin (not the framework) registered. None when no such component's code ran."""
        registered = {
            cls: kind
            for kind, registry in self.registries.items()
            for _, cls, origin in registry.items()
            if origin.distribution != "framework"
        }
        for frame, _ in reversed(list(traceback.walk_tb(error.__traceback__))):
            instance = frame.f_locals.get("self")
            if type(instance) in registered:
                return self.describe(registered[type(instance)], instance)
        return None

    def plugin_hooks(self, plugin_name: str) -> list[str]:
        plugin = self.manager.get_plugin(plugin_name)
        return sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or ())


def blocked_from_environment() -> list[str]:
    return [name.strip() for name in os.environ.get(DISABLE_PLUGINS_ENV, "").split(",") if name.strip()]


def autoload_enabled() -> bool:
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() in ("", "0", "false", "no")


def blocked_note() -> str:
    """A note for "unknown name" messages: what the environment keeps from being loaded."""
    blocked = blocked_from_environment()
    if blocked:
        return f" (plugins blocked by {DISABLE_PLUGINS_ENV}={','.join(blocked)} add nothing; unblock one to use what it provides)"
    if not autoload_enabled():
        return f" (installed plugins are not loaded: {DISABLE_AUTOLOAD_ENV} is set)"
    return ""


def build_plugins(
    *, autoload: bool | None = None, disable: list[str] | None = None, extra: list | None = None
) -> Plugins:
    """Create the plugin manager and the registries.

    ``autoload=None`` follows ``FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD``; ``disable``
    (plus ``FRAMEWORK_DISABLE_PLUGINS``, comma-separated) blocks plugins by name;
    ``extra`` registers additional plugin objects (handy in tests and notebooks).
    """
    manager = FrameworkPluginManager("framework")
    manager.add_hookspecs(hookspecs)
    plugins = Plugins(manager)
    _check_blocked_names()
    for name in [*(disable or []), *blocked_from_environment()]:
        manager.set_blocked(name)
    _register_builtins(plugins)
    if autoload_enabled() if autoload is None else autoload:
        _register_entry_points(plugins)
    _register_extra(plugins, extra or [])
    _check_hookimpls(plugins)
    _fill_registries(plugins)
    return plugins


@functools.cache
def default_plugins() -> Plugins:
    """The plugins as configured by the environment, built once per process."""
    return build_plugins()


def _check_blocked_names() -> None:
    """A name in ``FRAMEWORK_DISABLE_PLUGINS`` that matches no plugin blocks nothing: a misspelled
    one would leave on the plugin it meant to switch off."""
    known = [*BUILTIN_PLUGINS, *sorted({entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)})]
    for name in blocked_from_environment():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise PluginError(
                f"{DISABLE_PLUGINS_ENV}={os.environ.get(DISABLE_PLUGINS_ENV)}: no plugin is named {name!r}, so it "
                f"blocks nothing; {hint}the plugins are: {', '.join(known)} (see python -m framework.plugins)"
            )


def _register_builtins(plugins: Plugins) -> None:
    for module_name in BUILTIN_PLUGINS:
        if not plugins.manager.is_blocked(module_name):
            origin = Origin(module_name, "framework", framework.__version__)
            _register(plugins, import_module(module_name), module_name, origin)


def _register_entry_points(plugins: Plugins) -> None:
    """Load and register the entry points of installed distributions, unless blocked."""
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if plugins.manager.is_blocked(entry_point.name):
            continue
        origin = _entry_point_origin(entry_point)
        _check_name_is_free(plugins, entry_point.name, origin)
        _register(plugins, _load_entry_point(entry_point, origin), entry_point.name, origin)


def _entry_point_origin(entry_point) -> Origin:
    dist = entry_point.dist
    return Origin(entry_point.name, dist.name if dist else "?", dist.version if dist else "?")


def _check_name_is_free(plugins: Plugins, name: str, origin: Origin) -> None:
    if name == BUILTIN_NAMESPACE or SEPARATOR in name:
        raise PluginError(
            f"{origin}: a plugin cannot be named {name!r} ({BUILTIN_NAMESPACE!r} is the built-ins' part of a qualified "
            f"name such as {BUILTIN_NAMESPACE}{SEPARATOR}adam, and {SEPARATOR!r} separates the parts); rename its entry "
            f"point, or block it: {DISABLE_PLUGINS_ENV}={name}"
        )
    if plugins.manager.get_plugin(name) is not None:
        raise PluginError(
            f"two plugins are named {name!r}: {plugins.origins[name]} and {origin}; "
            f"uninstall one, or block the name with {DISABLE_PLUGINS_ENV}={name}"
        )


def _load_entry_point(entry_point, origin: Origin):
    try:
        return entry_point.load()
    except Exception as exc:
        raise PluginError(
            f'Error importing plugin "{entry_point.name}" (entry point {entry_point.value!r} of '
            f"{origin.distribution} {origin.version}): {type(exc).__name__}: {exc}; "
            f"{_repair_hint(entry_point.name, origin)}"
        ) from exc


def _register_extra(plugins: Plugins, extra: list) -> None:
    for index, plugin in enumerate(extra):
        name = getattr(plugin, "__name__", None) or f"extra-{index}-{type(plugin).__name__}"
        _register(plugins, plugin, name, Origin(name, "registered in code", ""))


def _check_hookimpls(plugins: Plugins) -> None:
    """Check every registered implementation against its hookspec."""
    try:
        plugins.manager.check_pending()
    except pluggy.PluginValidationError as exc:
        name = plugins.manager.get_name(exc.plugin) or repr(exc.plugin)
        raise PluginError(f"{plugins.origins.get(name, name)}: {_unknown_hook(plugins, exc) or exc}") from exc


def _unknown_hook(plugins: Plugins, error: pluggy.PluginValidationError) -> str | None:
    """A hook implementation whose name no hookspec has (a typo, most often), with the closest hook."""
    match = re.search(r"unknown hook '([^']+)'", str(error))
    if match is None:
        return None
    hooks = sorted(name for name, caller in vars(plugins.manager.hook).items() if getattr(caller, "spec", None))
    close = difflib.get_close_matches(match.group(1), hooks, n=1)
    fix = f"did you mean {close[0]}? rename the function" if close else "rename the function to one of the hooks"
    return (
        f"{match.group(1)} is not a hook of the framework, so it would never be called; {fix} "
        "(the hooks are in framework/training/hookspecs.py)"
    )


def _fill_registries(plugins: Plugins) -> None:
    """Call every registration hook and add the classes it returns to its kind's registry."""
    for hook_name, kind in KINDS.items():
        registry = plugins.registries[kind] = Registry(kind)
        for impl in getattr(plugins.manager.hook, hook_name).get_hookimpls():
            origin = plugins.origins[impl.plugin_name]
            for cls in _call_registration(impl, origin, hook_name):
                registry.add(cls, origin)


def _register(plugins: Plugins, plugin, name: str, origin: Origin) -> None:
    _refuse_hookless_attributes(plugin, origin)
    plugins.manager.descriptions[name] = str(origin)
    try:
        plugins.manager.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        del plugins.manager.descriptions[name]
        raise PluginError(f"{origin} could not be registered: {exc}") from exc
    plugins.origins[name] = origin


def _refuse_hookless_attributes(plugin, origin: Origin) -> None:
    """A ``framework_*`` attribute that is not a function (a constant, a list) can be no hook;
    pluggy would pass over it in silence. Imported modules (``import framework_extras``) are
    names, not hooks."""
    for attribute in dir(plugin):
        value = getattr(plugin, attribute, None)
        if attribute.startswith("framework_") and not callable(value) and not inspect.ismodule(value):
            raise PluginError(
                f"{origin}: {attribute} is not a function, so it can be no hook; rename it "
                "(names starting with 'framework_' are for hook implementations)"
            )


def _repair_hint(name: str, origin: Origin) -> str:
    """What to do about an installed plugin that is broken."""
    return (
        f"fix or reinstall {origin.distribution} (pip install --force-reinstall {origin.distribution}), "
        f"uninstall it, or block it: {DISABLE_PLUGINS_ENV}={name}"
    )


def _call_registration(impl, origin: Origin, hook_name: str) -> list:
    try:
        result = impl.function()
    except Exception as exc:
        hint = "" if origin.distribution == "registered in code" else f"; {_repair_hint(origin.plugin, origin)}"
        raise PluginError(f"{origin} failed in {hook_name}: {type(exc).__name__}: {exc}{hint}") from exc
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        raise PluginError(f"{origin}: {hook_name} must return a list, got {type(result).__name__}")
    return list(result)
