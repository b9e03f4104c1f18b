"""Where the command's Hydra configs live: ``conf/`` (the primary config and its groups)
and ``experiments/`` (presets, shown to Hydra as the ``experiment`` group).

A built wheel carries both inside the package, in ``configs/`` beside this module
(``setup.py`` copies them there at build time); an editable install reads them from
the checkout, at the top of the repository."""

from pathlib import Path

from framework.core.errors import FrameworkError

_PACKAGED = Path(__file__).resolve().parent / "configs"
_CHECKOUT = Path(__file__).resolve().parents[2]


def _config_dir(name: str) -> Path:
    looked_at = (_PACKAGED / name, _CHECKOUT / name)
    for directory in looked_at:
        if directory.is_dir():
            return directory
    raise FrameworkError(
        f"cannot find the {name}/ configs (looked in {looked_at[0]} and {looked_at[1]}); reinstall the package "
        "with `pip install .` (its wheel ships them) or, from a checkout, `pip install -e .`"
    )


def conf_dir() -> Path:
    return _config_dir("conf")


def experiments_dir() -> Path:
    return _config_dir("experiments")
