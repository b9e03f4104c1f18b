"""A Hydra config source that shows one directory as one config group:
``framework-mount://experiment=/path/to/experiments`` makes every
``/path/to/experiments/<name>.yaml`` selectable as ``+experiment=<name>``."""

import os

from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from omegaconf import OmegaConf


class MountedGroupConfigSource(ConfigSource):
    def __init__(self, provider: str, path: str) -> None:
        super().__init__(provider=provider, path=path)
        self.group, _, self.directory = self.path.partition("=")

    @staticmethod
    def scheme() -> str:
        return "framework-mount"

    def _real_path(self, config_path: str) -> str | None:
        head, _, rest = config_path.strip("/").partition("/")
        return os.path.join(self.directory, rest) if head == self.group else None

    def available(self) -> bool:
        return os.path.isdir(self.directory)

    def is_group(self, config_path: str) -> bool:
        if config_path.strip("/") == "":
            return True
        real = self._real_path(config_path)
        return real is not None and os.path.isdir(real)

    def is_config(self, config_path: str) -> bool:
        real = self._real_path(self._normalize_file_name(config_path))
        return real is not None and os.path.isfile(real)

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        if config_path.strip("/") == "":
            return [self.group] if results_filter in (None, ObjectType.GROUP) else []
        files: list[str] = []
        real = self._real_path(config_path)
        for name in os.listdir(real) if real and os.path.isdir(real) else []:
            self._list_add_result(files, os.path.join(config_path, name), name, results_filter)
        return sorted(set(files))

    def load_config(self, config_path: str) -> ConfigResult:
        real = self._real_path(self._normalize_file_name(config_path))
        if real is None or not os.path.isfile(real):
            raise ConfigLoadError(f"Config not found: {config_path} (group {self.group!r} is {self.directory})")
        with open(real, encoding="utf-8") as handle:
            header = ConfigSource._get_header_dict(handle.read(512))
            handle.seek(0)
            config = OmegaConf.load(handle)
        return ConfigResult(config=config, path=f"{self.scheme()}://{self.path}", provider=self.provider, header=header)
