"""Registers the built-in datasets."""

from framework.data import BUILTIN_DATASETS
from framework.training.hookspecs import hookimpl


@hookimpl
def framework_register_datasets():
    return list(BUILTIN_DATASETS)
