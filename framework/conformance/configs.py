"""``check_config_files``: every config file a plugin ships composes with the project's
config and trains one epoch."""

import tempfile
from pathlib import Path

from framework.conformance._assert import fail

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
    search_path = f"hydra.searchpath=[file://{Path(conf_dir).resolve()}]"
    for option in options:
        with (
            tempfile.TemporaryDirectory() as output,
            initialize_config_dir(version_base="1.3", config_dir=str(project_conf_dir())),
        ):
            try:
                cfg = compose("config", overrides=[search_path, *TINY, *overrides, option, f"output_dir={output}"])
                train(cfg, plugins=plugins, log=lambda *_: None, context=JobContext(output_dir=Path(output)))
            except Exception as exc:
                raise AssertionError(f"{option} (from {conf_dir}): {type(exc).__name__}: {exc}") from exc
    return options
