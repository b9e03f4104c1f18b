"""A callback's ``framework_*`` methods checked against the lifecycle hookspecs before
it is registered: a misspelled hook, a ``framework_*`` attribute that is no hook, or
a hook that takes an argument its spec lacks would otherwise be ignored in silence or
fail deep inside pluggy. Each problem is one ``PluginError`` naming the callback."""

import difflib
import inspect

from framework import hookspecs
from framework.plugins.manager import LIFECYCLE_HOOKS, PluginError

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
