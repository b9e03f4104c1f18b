"""Name -> class registries, one per kind of component.

Every class is registered under its qualified name ``<plugin>:<name>`` (the built-ins'
plugin part is ``framework``). A bare ``<name>`` reaches the one class of that name;
when several plugins register it, the built-in keeps it unless exactly one plugin's
class says ``replaces_builtin = True``, and otherwise it is ambiguous: an error only
when something asks for it, naming the qualified choices."""

import difflib
from dataclasses import dataclass

from framework.core.errors import FrameworkError

SEPARATOR = ":"
BUILTIN_NAMESPACE = "framework"
BUILTIN_DISTRIBUTION = "framework"


class UnknownNameError(FrameworkError, KeyError):
    """A config named a component that no plugin registered."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0])


class AmbiguousNameError(UnknownNameError):
    """A bare name that several plugins register, none of them the one it means."""


class DuplicateNameError(FrameworkError, ValueError):
    """One plugin registered the same name twice for the same kind."""


@dataclass(frozen=True)
class Origin:
    """Where a registered class comes from."""

    plugin: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION

    @property
    def namespace(self) -> str:
        """The plugin part of a qualified name: the plugin's name, ``framework`` for the built-ins."""
        return BUILTIN_NAMESPACE if self.builtin else self.plugin

    def __str__(self) -> str:
        source = f"{self.distribution} {self.version}" if self.version else self.distribution
        return f"plugin {self.plugin!r} ({source})"


def qualify(namespace: str, name: str) -> str:
    return f"{namespace}{SEPARATOR}{name}"


def bare(name: str) -> str:
    """``adagrad`` of ``contrib:adagrad`` (and of ``adagrad``)."""
    return name.rpartition(SEPARATOR)[2]


@dataclass(frozen=True)
class Entry:
    """One registered class: ``qualified`` always reaches it, ``name`` too when ``owns_name``."""

    name: str
    qualified: str
    cls: type
    origin: Origin
    owns_name: bool

    @property
    def address(self) -> str:
        """The shortest name that reaches this class."""
        return self.name if self.owns_name else self.qualified


class Registry:
    """Classes of one kind (``"optimizer"``, ``"layer"``, ...) by qualified and bare name."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, tuple[type, Origin]] = {}
        self._by_name: dict[str, list[str]] = {}

    def add(self, cls: type, origin: Origin) -> None:
        if not isinstance(cls, type):
            raise FrameworkError(
                f"{origin} registers {cls!r} as a {self.kind}, which is not a class; return the class itself, not an instance"
            )
        name = getattr(cls, "name", "")
        if not isinstance(name, str) or not name:
            raise FrameworkError(f"{origin} registers {self.kind} class {cls.__qualname__} without a 'name' attribute")
        if SEPARATOR in name:
            raise FrameworkError(
                f"{origin} registers {self.kind} class {cls.__qualname__} as {name!r}; a name may not contain "
                f"{SEPARATOR!r} (it separates plugin and name, as in {qualify(origin.namespace, 'name')}): rename it"
            )
        qualified = qualify(origin.namespace, name)
        if qualified in self._entries:
            other_cls = self._entries[qualified][0]
            raise DuplicateNameError(
                f"{self.kind} name {name!r} is registered twice by {origin} ({other_cls.__qualname__} and "
                f"{cls.__qualname__}); a plugin registers each name once: fix the plugin, or block it "
                f"(FRAMEWORK_DISABLE_PLUGINS={origin.plugin})"
            )
        self._entries[qualified] = (cls, origin)
        self._by_name.setdefault(name, []).append(qualified)

    def resolve(self, name: str) -> str:
        """The qualified name ``name`` (bare or qualified) stands for."""
        if not isinstance(name, str):
            raise UnknownNameError(self.unknown_message(name))
        if SEPARATOR in name:
            if name not in self._entries:
                raise UnknownNameError(self.unknown_message(name))
            return name
        candidates = self._by_name.get(name)
        if not candidates:
            raise UnknownNameError(self.unknown_message(name))
        chosen = self._bare_owner(candidates)
        if chosen is None:
            raise AmbiguousNameError(self.ambiguous_message(name))
        return chosen

    def _bare_owner(self, candidates: list[str]) -> str | None:
        if len(candidates) == 1:
            return candidates[0]
        builtin, replacing = self._builtin(candidates), self._replacing(candidates)
        if builtin and len(replacing) == 1:
            return replacing[0]
        if builtin and not replacing:
            return builtin[0]
        return None

    def _builtin(self, candidates: list[str]) -> list[str]:
        return [q for q in candidates if self._entries[q][1].builtin]

    def _replacing(self, candidates: list[str]) -> list[str]:
        """The plugins' classes that say ``replaces_builtin = True``."""
        return [
            q
            for q in candidates
            if not self._entries[q][1].builtin and getattr(self._entries[q][0], "replaces_builtin", False) is True
        ]

    def ambiguous_message(self, name: str) -> str:
        choices = self.choices(name)
        return (
            f"{self.kind} name {name!r} is registered by {len(choices)} plugins, so it is ambiguous; "
            f"write the qualified name: {' or '.join(choices)}"
        )

    def choices(self, name: str) -> list[str]:
        """The qualified names a bare ``name`` could mean, sorted; for a built-in with
        replacements, only the replacements compete."""
        candidates = self._by_name.get(name, [])
        return sorted(self._replacing(candidates) if self._builtin(candidates) else candidates)

    def get(self, name: str) -> type:
        return self._entries[self.resolve(name)][0]

    def origin(self, name: str) -> Origin:
        return self._entries[self.resolve(name)][1]

    def entry(self, name: str) -> Entry:
        return self._entry(self.resolve(name))

    def entry_of_class(self, cls: type) -> Entry | None:
        """The entry registering exactly ``cls`` under its own name, or None."""
        for qualified in self._by_name.get(getattr(cls, "name", None), ()):
            if self._entries[qualified][0] is cls:
                return self._entry(qualified)
        return None

    def _entry(self, qualified: str) -> Entry:
        cls, origin = self._entries[qualified]
        name = bare(qualified)
        return Entry(name, qualified, cls, origin, self._bare_owner(self._by_name[name]) == qualified)

    def unknown_message(self, name) -> str:
        names = self.names()
        close = difflib.get_close_matches(str(name), [*names, *self._entries], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(names) or 'none'}"

    def names(self) -> list[str]:
        """The shortest name of every class: bare where it reaches the class, qualified otherwise."""
        return sorted(entry.address for entry in self.entries())

    def collisions(self) -> dict[str, list[str]]:
        """Each bare name that several plugins register, with the qualified names it could mean."""
        return {name: sorted(qualified) for name, qualified in sorted(self._by_name.items()) if len(qualified) > 1}

    def entries(self) -> list[Entry]:
        return [self._entry(qualified) for qualified in sorted(self._entries, key=lambda q: (bare(q), q))]

    def items(self):
        """``(shortest name, class, origin)`` of every registered class."""
        return ((entry.address, entry.cls, entry.origin) for entry in self.entries())

    def __contains__(self, name) -> bool:
        try:
            self.resolve(name)
        except UnknownNameError:
            return False
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
