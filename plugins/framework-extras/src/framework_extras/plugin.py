"""The plugin module named by the ``framework`` entry point in ``pyproject.toml``.

Each function is a hook implementation (``framework/training/hookspecs.py`` has the
contract): the registration hooks return classes, ``framework_config_dirs``
returns the directory of the Hydra config groups this package ships.
"""

from pathlib import Path

from framework import hookimpl

from framework_extras.activations import Swish
from framework_extras.callbacks import Timer
from framework_extras.datasets import Moons
from framework_extras.optimizers import Lion

#: ``conf/optimizer/lion.yaml``, ``conf/data/moons.yaml``: shipped as package data.
CONFIG_DIR = Path(__file__).resolve().parent / "conf"


@hookimpl
def framework_register_layers():
    return [Swish]


@hookimpl
def framework_register_optimizers():
    return [Lion]


@hookimpl
def framework_register_callbacks():
    return [Timer]


@hookimpl
def framework_register_datasets():
    return [Moons]


@hookimpl
def framework_config_dirs():
    return [str(CONFIG_DIR)]
