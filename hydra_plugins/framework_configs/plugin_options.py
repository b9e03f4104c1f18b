"""A Hydra config source serving every framework plugin's config group options at once,
so that two plugins shipping the same option neither shadow one another nor break
anything: ``model=contrib:layer_norm_mlp`` selects plugin ``contrib``'s file,
``model=layer_norm_mlp`` the one plugin's file that has that name, and is refused,
listing both qualified names, when two plugins ship it. In a plugin's own file, a
``name:`` that the plugin registers means the plugin's class."""

import functools

from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigResult, ConfigSource
from omegaconf import OmegaConf

from framework.core.errors import ConfigError

YAML = ".yaml"


class PluginOptionsConfigSource(ConfigSource):
    @staticmethod
    def scheme() -> str:
        return "framework-plugins"

    @functools.cached_property
    def _plugins(self):
        from framework.plugins import default_plugins

        return default_plugins()

    @functools.cached_property
    def _options(self):
        from framework.plugins.config_options import ConfigOptions

        return ConfigOptions.of(self._plugins)

    def available(self) -> bool:
        return True

    def is_group(self, config_path: str) -> bool:
        group = config_path.strip("/")
        return group == "" or group in self._options.groups()

    def is_config(self, config_path: str) -> bool:
        group, option = _split(config_path)
        return option is not None and self._options.offers(group, option)

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        group = config_path.strip("/")
        found = []
        if results_filter in (None, ObjectType.GROUP):
            prefix = f"{group}/" if group else ""
            found += [
                g[len(prefix) :] for g in self._options.groups() if g.startswith(prefix) and "/" not in g[len(prefix) :]
            ]
        if results_filter in (None, ObjectType.CONFIG):
            found += self._options.names(group)
        return sorted(set(found))

    def load_config(self, config_path: str) -> ConfigResult:
        from framework.plugins import AmbiguousNameError
        from framework.plugins.config_options import own_names, qualify_own_names

        group, option_name = _split(config_path)
        try:
            option = self._options.find(group, option_name)
        except AmbiguousNameError as exc:
            raise ConfigError(str(exc)) from exc
        with open(option.path, encoding="utf-8") as handle:
            header = ConfigSource._get_header_dict(handle.read(512))
            handle.seek(0)
            loaded = OmegaConf.load(handle)
        names = own_names(self._plugins, option.namespace)
        plain = OmegaConf.to_container(loaded, resolve=False)
        config = OmegaConf.create(qualify_own_names(plain, option.namespace, names))
        return ConfigResult(
            config=config, path=f"{self.scheme()}://{option.path}", provider=self.provider, header=header
        )


def _split(config_path: str) -> tuple[str, str | None]:
    group, _, option = config_path.strip("/").removesuffix(YAML).rpartition("/")
    return group, option or None
