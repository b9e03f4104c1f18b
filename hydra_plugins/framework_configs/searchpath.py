"""Adds to Hydra's search path, for this project's command only: the experiment
presets (as the ``experiment`` group) and the config directories that installed
framework plugins declare through the ``framework_config_dirs`` hook."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class FrameworkSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from framework.command.paths import conf_dir, experiments_dir
        from framework.core.errors import FrameworkError
        from framework.plugins import default_plugins

        ours = str(conf_dir())
        if not any(element.path.rstrip("/").endswith(ours) for element in search_path.get_path()):
            return  # another Hydra application: leave its search path alone
        search_path.append("framework-experiments", f"framework-mount://experiment={experiments_dir()}")
        try:
            directories = default_plugins().config_dirs()
        except FrameworkError:  # a broken plugin, two plugins registering one name, ...
            return  # train() rebuilds the plugins and reports the error in one line
        for directory in directories:
            search_path.append("framework-plugin", f"file://{directory}")
