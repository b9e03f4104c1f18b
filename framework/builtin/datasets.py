"""Registers the built-in datasets."""

from framework import hookimpl
from framework.data import BUILTIN_DATASETS


@hookimpl
def framework_register_datasets():
    return list(BUILTIN_DATASETS)
