"""The plugin module the ``framework`` entry point names: each function is a hook implementation."""

from pathlib import Path

from framework import hookimpl
from framework_contrib.callbacks import CsvLogger
from framework_contrib.layers import LayerNorm
from framework_contrib.metrics import MacroF1
from framework_contrib.optimizers import Adagrad

CONFIG_DIR = Path(__file__).resolve().parent / "conf"


@hookimpl
def framework_register_layers():
    return [LayerNorm]


@hookimpl
def framework_register_optimizers():
    return [Adagrad]


@hookimpl
def framework_register_callbacks():
    return [CsvLogger]


@hookimpl
def framework_register_metrics():
    return [MacroF1]


@hookimpl
def framework_config_dirs():
    return [str(CONFIG_DIR)]
