"""The lifecycle hooks as the trainer calls them: the plugin manager that relays them
(a callback's ``framework_*`` methods are implementations without a marker; an
unexpected failure names its plugin), callbacks registered for the length of a fit,
and the check of a callback's ``framework_*`` methods against the hookspecs (a
misspelled hook, an attribute that is no hook, or an argument the spec does not pass
would otherwise be ignored in silence or fail deep inside pluggy). The plugins floor
builds on this manager; a trainer without plugins (in a notebook) makes one of its own."""

import contextlib
import difflib
import functools
import inspect
from collections.abc import Callable

import pluggy

from framework.core.errors import FrameworkError
from framework.training import hookspecs


class PluginError(FrameworkError, RuntimeError):
    """A plugin could not be imported, registered or called."""


#: Hooks the trainer calls; an unexpected error inside one is reported with its plugin's name.
LIFECYCLE_HOOKS = frozenset(
    name
    for name in dir(hookspecs)
    if name.startswith("framework_") and not name.startswith("framework_register_") and name != "framework_config_dirs"
)


class FrameworkPluginManager(pluggy.PluginManager):
    """A pluggy manager that accepts unmarked ``framework_*`` methods as hook
    implementations (so a callback class needs no decorator, as in pytest), and
    that names the plugin when one of its lifecycle hooks fails unexpectedly."""

    def __init__(self, project_name: str = "framework"):
        super().__init__(project_name)
        #: Plugin name -> how messages name it, e.g. "plugin 'extras' (framework-extras 0.1.0)".
        self.descriptions: dict[str, str] = {}

    def parse_hookimpl_opts(self, plugin, name):
        options = super().parse_hookimpl_opts(plugin, name)
        if options is None and name.startswith("framework_") and callable(getattr(plugin, name, None)):
            return {}
        return options

    def register(self, plugin, name=None):
        name = super().register(plugin, name)
        if name is not None:
            for caller in self.get_hookcallers(plugin) or ():
                if caller.name in LIFECYCLE_HOOKS:
                    for impl in caller.get_hookimpls():
                        if impl.plugin is plugin:
                            impl.function = _naming_failures(impl.function, self.describe(name), caller.name)
        return name

    def describe(self, name: str) -> str:
        if name in self.descriptions:
            return self.descriptions[name]
        kind, _, label = name.partition(":")
        return f"callback {label!r}" if kind == "callback" and label else f"plugin {name!r}"


def _naming_failures(function, owner: str, hook_name: str):
    """Wrap a lifecycle hook implementation: an unexpected exception becomes a
    ``PluginError`` naming ``owner``; the framework's own errors (deliberate, already
    clear) and interruptions pass unchanged."""

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except FrameworkError:
            raise
        except Exception as exc:
            raise PluginError(f"{owner} failed in {hook_name}: {type(exc).__name__}: {exc}") from exc

    return guarded


def lifecycle_manager() -> FrameworkPluginManager:
    """A manager with the hookspecs and no plugin: a trainer built without plugins relays
    its callbacks' hooks through one."""
    manager = FrameworkPluginManager("framework")
    manager.add_hookspecs(hookspecs)
    return manager


@contextlib.contextmanager
def callbacks_registered(manager: FrameworkPluginManager, callbacks: list, describe: Callable | None = None):
    """Register ``callbacks`` as plugins of ``manager`` for the length of the block. With
    ``describe`` (callback -> text), an error in one of a callback's hooks names it so."""
    names = [f"callback:{callback.name or id(callback)}" for callback in callbacks]
    # pluggy calls the most recently registered first: register in reverse so that
    # callbacks run in the order they were given.
    for callback, name in reversed(list(zip(callbacks, names, strict=True))):
        if describe is not None:
            manager.descriptions[name] = describe(callback)
        manager.register(callback, name=name)
    try:
        yield
    finally:
        for callback, name in zip(callbacks, names, strict=True):
            manager.unregister(callback)
            manager.descriptions.pop(name, None)


HOOK_PREFIX = "framework_"


class CallbackHookError(PluginError):
    """A callback defines a ``framework_*`` attribute that does not match a lifecycle hook."""


def lifecycle_hook_arguments() -> dict[str, tuple[str, ...]]:
    """Each lifecycle hook's name and the arguments its spec passes."""
    return {name: tuple(inspect.signature(getattr(hookspecs, name)).parameters) for name in sorted(LIFECYCLE_HOOKS)}


def check_callback_hooks(callback, owner: str) -> None:
    """Raise ``CallbackHookError`` when ``callback`` (described as ``owner`` in the message,
    e.g. "callback 'csv' from plugin 'contrib' (framework-contrib 0.1.0)") has a
    ``framework_*`` attribute that is not a lifecycle hook, or a hook method with a
    required argument its spec does not pass."""
    hooks = lifecycle_hook_arguments()
    for attribute in sorted(name for name in dir(type(callback)) if name.startswith(HOOK_PREFIX)):
        if attribute not in hooks:
            raise CallbackHookError(f"{owner}: {_not_a_hook(attribute, hooks)}")
        extra = _arguments_beyond_spec(getattr(callback, attribute), hooks[attribute])
        if extra:
            raise CallbackHookError(
                f"{owner}: {attribute} takes {', '.join(extra)}, which the hook does not pass; "
                f"it may take any of: {', '.join(hooks[attribute])} (by name)"
            )


def _not_a_hook(attribute: str, hooks: dict) -> str:
    close = difflib.get_close_matches(attribute, list(hooks), n=1, cutoff=0.6)
    advice = f"did you mean {close[0]}?" if close else "rename it"
    return (
        f"{attribute} is not a lifecycle hook, so it would never be called; {advice} "
        f"(hooks: {', '.join(hooks)}; a helper's name must not start with {HOOK_PREFIX!r})"
    )


def _arguments_beyond_spec(method, spec_arguments: tuple[str, ...]) -> list[str]:
    """Arguments the method requires that the hook does not pass (as pluggy matches them:
    by name, ignoring those with a default)."""
    if not callable(method):
        return []
    required = [
        parameter.name
        for parameter in inspect.signature(method).parameters.values()
        if parameter.default is parameter.empty
        and parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    ]
    return [name for name in required if name not in spec_arguments]
