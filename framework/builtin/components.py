"""Registers the numerical core's layers, losses, optimizers and initializers."""

from framework.core import INITIALIZERS, LAYERS, LOSSES, OPTIMIZERS
from framework.training.hookspecs import hookimpl


@hookimpl
def framework_register_layers():
    return list(LAYERS)


@hookimpl
def framework_register_losses():
    return list(LOSSES)


@hookimpl
def framework_register_optimizers():
    return list(OPTIMIZERS)


@hookimpl
def framework_register_initializers():
    return list(INITIALIZERS)
