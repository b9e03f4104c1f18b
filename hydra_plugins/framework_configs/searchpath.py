"""Adds to Hydra's search path, for this project's command only: the experiment
presets (as the ``experiment`` group) and the config directories that installed
framework plugins declare through the ``framework_config_dirs`` hook."""

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
        for directory in default_plugins().config_dirs():
            search_path.append("framework-plugin", f"file://{directory}")
