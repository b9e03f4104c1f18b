"""The Hydra config group options that plugins ship, named like registered classes: each
``<dir>/<group>/<option>.yaml`` of plugin ``contrib`` is ``<group>=contrib:<option>``, and
``<group>=<option>`` too while no other plugin ships that option. Hydra itself is not
imported here: the config source in ``hydra_plugins/framework_configs`` serves this table."""

from dataclasses import dataclass
from pathlib import Path

from framework.plugins.registry import SEPARATOR, AmbiguousNameError, qualify

YAML_SUFFIX = ".yaml"


@dataclass(frozen=True)
class ConfigOption:
    """One option file a plugin ships: ``group`` (``model``, ``hydra/sweeper``) and ``name``."""

    group: str
    name: str
    namespace: str
    path: Path

    @property
    def qualified(self) -> str:
        return qualify(self.namespace, self.name)


class ConfigOptions:
    """Every plugin's config options by group, bare and qualified."""

    def __init__(self, options: list[ConfigOption]):
        self._groups: dict[str, dict[str, list[ConfigOption]]] = {}
        for option in options:
            self._groups.setdefault(option.group, {}).setdefault(option.name, []).append(option)

    @classmethod
    def of(cls, plugins) -> "ConfigOptions":
        options = []
        for directory, plugin_name in config_dirs_by_plugin(plugins):
            namespace = plugins.origins[plugin_name].namespace
            for path in sorted(directory.rglob(f"*{YAML_SUFFIX}")):
                group = path.parent.relative_to(directory).as_posix()
                if group != ".":
                    options.append(ConfigOption(group, path.stem, namespace, path))
        return cls(options)

    def groups(self) -> list[str]:
        """Every group holding an option, and the groups above it (``hydra`` of ``hydra/sweeper``)."""
        found = set()
        for group in self._groups:
            parts = group.split("/")
            found.update("/".join(parts[: index + 1]) for index in range(len(parts)))
        return sorted(found)

    def names(self, group: str) -> list[str]:
        """What ``<group>=`` accepts from the plugins: every qualified name, and each bare name
        that one plugin alone ships."""
        shown = []
        for name, options in self._groups.get(group, {}).items():
            shown += [option.qualified for option in options]
            if len(options) == 1:
                shown.append(name)
        return sorted(shown)

    def offers(self, group: str, name: str) -> bool:
        """Whether ``name`` (bare, also when ambiguous, or qualified) is a plugin option of ``group``."""
        namespace, _, option_name = name.rpartition(SEPARATOR)
        options = self._groups.get(group, {}).get(option_name, [])
        return any(option.namespace == namespace for option in options) if namespace else bool(options)

    def find(self, group: str, name: str) -> ConfigOption:
        """The option ``<group>=<name>`` selects (one that ``offers`` says is there); an ambiguous
        bare name is an error listing the choices."""
        namespace, _, option_name = name.rpartition(SEPARATOR)
        options = self._groups.get(group, {}).get(option_name, [])
        matching = [option for option in options if option.namespace == namespace] if namespace else options
        if len(matching) > 1:
            choices = " or ".join(sorted(f"{group}={option.qualified}" for option in matching))
            raise AmbiguousNameError(
                f"{group}={name}: {len(matching)} plugins ship a {group} option {name!r}, so it is ambiguous; "
                f"choose one by its qualified name: {choices}"
            )
        return matching[0]

    def collisions(self) -> dict[str, list[str]]:
        """``group/option`` of each option that several plugins ship, with its qualified names."""
        return {
            f"{group}/{name}": sorted(option.qualified for option in options)
            for group, by_name in sorted(self._groups.items())
            for name, options in sorted(by_name.items())
            if len(options) > 1
        }


def config_dirs_by_plugin(plugins) -> list[tuple[Path, str]]:
    """``(directory, plugin name)`` of every config directory, checked by ``Plugins.config_dirs``."""
    plugins.config_dirs()
    pairs = []
    for impl in plugins.hook.framework_config_dirs.get_hookimpls():
        pairs.extend((Path(entry), impl.plugin_name) for entry in impl.function() or ())
    return pairs


def own_names(plugins, namespace: str) -> set[str]:
    """The bare names plugin ``namespace`` registers, of any kind: in its own config files they
    mean its own classes."""
    return {
        entry.name
        for registry in plugins.registries.values()
        for entry in registry.entries()
        if entry.origin.namespace == namespace
    }


def qualify_own_names(node, namespace: str, names: set[str]):
    """``node`` (plain dicts and lists, as a config file reads) with every ``name: <bare>`` that
    ``names`` holds written ``name: <namespace>:<bare>``."""
    if isinstance(node, dict):
        return {
            key: qualify(namespace, value)
            if key == "name" and isinstance(value, str) and value in names
            else qualify_own_names(value, namespace, names)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [qualify_own_names(item, namespace, names) for item in node]
    return node
