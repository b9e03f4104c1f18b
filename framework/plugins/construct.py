"""From a config node to an object, through the registries. Every failure becomes one
``ConfigError`` that names the config path, the bad value and what is accepted."""

import inspect
from collections.abc import Mapping

from framework.core.errors import ConfigError, InvalidValueError
from framework.plugins.manager import blocked_note
from framework.plugins.registry import AmbiguousNameError, UnknownNameError


def accepted_arguments(cls) -> tuple[list[str], bool]:
    """Keyword arguments ``cls`` accepts, following ``**kwargs`` up the base classes."""
    names: list[str] = []
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        names += [
            p.name for p in parameters if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return list(dict.fromkeys(names)), True
    return list(dict.fromkeys(names)), False


def construct(cls, arguments: Mapping, path: str, **fixed):
    """``cls(**arguments, **fixed)`` with errors turned into ``ConfigError``s about ``path``."""
    accepted, complete = accepted_arguments(cls)
    if complete:
        unknown = [key for key in arguments if key not in accepted]
        if unknown:
            raise ConfigError(
                f"{path}.{unknown[0]}: {cls.__name__} ({getattr(cls, 'name', '')}) takes no argument {unknown[0]!r}; "
                f"it takes: {', '.join(a for a in accepted if a not in fixed) or 'no arguments'}"
            )
    try:
        return cls(**arguments, **fixed)
    except InvalidValueError as exc:
        if exc.argument is not None and exc.argument in arguments:
            key = f"{path}.{exc.argument}"
            raise ConfigError(f"{key}={arguments[exc.argument]!r}: {_without_owner(str(exc), exc.argument)}") from exc
        raise ConfigError(f"{path}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {cls.__name__}: {exc}") from exc


def _without_owner(message: str, argument: str) -> str:
    """``"checkpoint: monitor must be ..."`` as ``"monitor must be ..."``: once the message starts
    with the config key, the component's internal name only stands in the way."""
    _owner, separator, rest = message.partition(": ")
    return rest if separator and rest.startswith(argument) else message


def registered_class(plugins, kind: str, node, path: str) -> type:
    """The class ``node`` names (a bare name or ``{"name": ...}``), or a ``ConfigError``."""
    available = f"available: {', '.join(plugins.registry(kind).names())}"
    if isinstance(node, Mapping) and "name" in node and not isinstance(node["name"], str):
        raise ConfigError(f"{path}.name={node['name']!r}: expected one {kind} name (a string); {available}")
    name = node if isinstance(node, str) else node.get("name") if isinstance(node, Mapping) else None
    if name is None:
        raise ConfigError(f"{path}={node!r}: expected a {kind} name or a mapping with a 'name' key; {available}")
    try:
        return plugins.get(kind, name)
    except AmbiguousNameError as exc:
        raise ConfigError(f"{_name_key(node, path)}={name!r}: {exc}") from exc
    except UnknownNameError as exc:
        raise ConfigError(f"{_name_key(node, path)}={name!r}: {exc}{blocked_note()}") from exc


def _name_key(node, path: str) -> str:
    """The config key holding the name: ``optimizer.name``, or the path itself for a bare string."""
    return path if isinstance(node, str) else f"{path}.name"


def instantiate(plugins, kind: str, node, path: str, **fixed):
    """Build a registered component from ``{"name": ..., **arguments}`` (or a bare name)."""
    cls = registered_class(plugins, kind, node, path)
    arguments = {key: value for key, value in node.items() if key != "name"} if isinstance(node, Mapping) else {}
    return construct(cls, _resolve_initializers(plugins, arguments, path), path, **fixed)


def _resolve_initializers(plugins, arguments: dict, path: str) -> dict:
    """Layer arguments named ``init`` or ``*_init`` are initializer registry names (or mappings)."""
    resolved = dict(arguments)
    for key, value in arguments.items():
        if (key == "init" or key.endswith("_init")) and value is not None:
            resolved[key] = instantiate(plugins, "initializer", value, f"{path}.{key}")
    return resolved
