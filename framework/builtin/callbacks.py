"""Registers the built-in training callbacks."""

from framework.training.callbacks import CALLBACKS
from framework.training.hookspecs import hookimpl


@hookimpl
def framework_register_callbacks():
    return list(CALLBACKS)
