"""Adds to Hydra's search path, for this project's command only: the experiment
presets (as the ``experiment`` group) and the config group options that installed
framework plugins ship in the directories of their ``framework_config_dirs`` hook
(``plugin_options.py``: qualified ``<plugin>:<option>`` names, bare ones while unique)."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class FrameworkSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from framework.command.paths import conf_dir, experiments_dir
        from framework.plugins import default_plugins

        ours = str(conf_dir())
        if not any(element.path.rstrip("/").endswith(ours) for element in search_path.get_path()):
            return  # another Hydra application: leave its search path alone
        search_path.append("framework-experiments", f"framework-mount://experiment={experiments_dir()}")
        # A broken plugin (or two registering one name) is reported here, as itself, in one
        # line: its options would be missing, and "no option 'iris'" or a --help without them
        # would blame the user instead.
        if default_plugins().config_dirs():
            # One source for every plugin's options: it tells apart two plugins' options of one name.
            search_path.append("framework-plugins", "framework-plugins://installed")
