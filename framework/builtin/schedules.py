"""Registers the built-in learning-rate schedules."""

from framework.training.hookspecs import hookimpl
from framework.training.schedules import SCHEDULES


@hookimpl
def framework_register_schedules():
    return list(SCHEDULES)
