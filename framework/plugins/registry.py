"""Name -> class registries, one per kind of component."""

import difflib
from dataclasses import dataclass

from framework.core.errors import FrameworkError


class UnknownNameError(FrameworkError, KeyError):
    """A config named a component that no plugin registered."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0])


class DuplicateNameError(FrameworkError, ValueError):
    """Two plugins registered the same name for the same kind."""


@dataclass(frozen=True)
class Origin:
    """Where a registered class comes from."""

    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        source = f"{self.distribution} {self.version}" if self.version else self.distribution
        return f"plugin {self.plugin!r} ({source})"


class Registry:
    """Classes of one kind (``"optimizer"``, ``"layer"``, ...) by registry name."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, tuple[type, Origin]] = {}

    def add(self, cls: type, origin: Origin) -> None:
        if not isinstance(cls, type):
            raise FrameworkError(
                f"{origin} registers {cls!r} as a {self.kind}, which is not a class; return the class itself, not an instance"
            )
        name = getattr(cls, "name", "")
        if not isinstance(name, str) or not name:
            raise FrameworkError(f"{origin} registers {self.kind} class {cls.__qualname__} without a 'name' attribute")
        if name in self._entries:
            other_cls, other = self._entries[name]
            raise DuplicateNameError(
                f"{self.kind} name {name!r} is registered twice: by {other} ({other_cls.__qualname__}) and by "
                f"{origin} ({cls.__qualname__}); uninstall or block one of them (FRAMEWORK_DISABLE_PLUGINS=<plugin>)"
            )
        self._entries[name] = (cls, origin)

    def get(self, name: str) -> type:
        try:
            return self._entries[name][0]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name) -> str:
        names = sorted(self._entries)
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(names) or 'none'}"

    def origin(self, name: str) -> Origin:
        self.get(name)
        return self._entries[name][1]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self):
        return ((name, cls, origin) for name, (cls, origin) in sorted(self._entries.items()))

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
