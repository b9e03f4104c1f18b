"""Registers the built-in learning-rate schedules."""

from framework import hookimpl
from framework.training.schedules import SCHEDULES


@hookimpl
def framework_register_schedules():
    return list(SCHEDULES)
