"""``check_config_files``: every config file a plugin ships composes with the project's
config and trains one epoch."""

import tempfile
from pathlib import Path

from framework.conformance._assert import fail
from framework.plugins.registry import SEPARATOR

TINY = ("trainer.epochs=1", "logger=none", "callbacks.progress=null")


def config_options(conf_dir) -> list[str]:
    """``group=option`` for every ``<conf_dir>/<group>/<option>.yaml``."""
    return sorted(f"{path.parent.name}={path.stem}" for path in Path(conf_dir).glob("*/*.yaml"))


def check_config_files(conf_dir, *overrides: str, plugins=None) -> list[str]:
    """Compose the project's config with each option of ``conf_dir`` (the directory a plugin
    returns from ``framework_config_dirs``) and train one epoch with it; ``overrides`` are
    added to every run (``"data=xor"`` to try an optimizer on small data). ``plugins``
    registers the option's classes (by default the installed plugins). Returns the options
    checked; raises ``AssertionError`` naming the option that does not compose or run."""
    from hydra import compose, initialize_config_dir

    from framework.command.paths import conf_dir as project_conf_dir
    from framework.command.recipe import JobContext, train

    options = config_options(conf_dir)
    if not options:
        fail(str(conf_dir), "holds no <group>/<option>.yaml file")
    owner = _installed_owner(conf_dir)
    search_path = [] if owner else [f"hydra.searchpath=[file://{Path(conf_dir).resolve()}]"]
    for option in options:
        # An installed plugin's options are chosen by their qualified names: another plugin may ship the same.
        chosen = option.replace("=", f"={owner}{SEPARATOR}", 1) if owner else option
        with (
            tempfile.TemporaryDirectory() as output,
            initialize_config_dir(version_base="1.3", config_dir=str(project_conf_dir())),
        ):
            try:
                cfg = compose("config", overrides=[*search_path, *TINY, *overrides, chosen, f"output_dir={output}"])
                train(cfg, plugins=plugins, log=lambda *_: None, context=JobContext(output_dir=Path(output)))
            except Exception as exc:
                raise AssertionError(f"{option} (from {conf_dir}): {type(exc).__name__}: {exc}") from exc
    return options


def _installed_owner(conf_dir) -> str | None:
    """The qualifying name of the installed plugin that ships ``conf_dir``, or None (a directory of
    a plugin that is not installed, tried through Hydra's search path)."""
    from framework.plugins import default_plugins
    from framework.plugins.config_options import config_dirs_by_plugin

    plugins = default_plugins()
    for directory, plugin_name in config_dirs_by_plugin(plugins):
        if directory.resolve() == Path(conf_dir).resolve():
            return plugins.origins[plugin_name].namespace
    return None
