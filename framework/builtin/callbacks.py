"""Registers the built-in training callbacks."""

from framework import hookimpl
from framework.training.callbacks import CALLBACKS


@hookimpl
def framework_register_callbacks():
    return list(CALLBACKS)
