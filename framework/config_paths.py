"""Where the project's Hydra configs live: ``conf/`` (the primary config and its
groups) and ``experiments/`` (presets, shown to Hydra as the ``experiment`` group)."""

from pathlib import Path

from framework.core.errors import FrameworkError

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def project_dir(name: str) -> Path:
    directory = _SOURCE_ROOT / name
    if not directory.is_dir():
        raise FrameworkError(
            f"cannot find the {name}/ directory at {directory}; install the project from its checkout "
            "with `pip install -e .` so the configs stay beside the package"
        )
    return directory


def conf_dir() -> Path:
    return project_dir("conf")


def experiments_dir() -> Path:
    return project_dir("experiments")
