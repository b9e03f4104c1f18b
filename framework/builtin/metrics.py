"""Registers the built-in metrics."""

from framework.core.metrics import METRICS
from framework.training.hookspecs import hookimpl


@hookimpl
def framework_register_metrics():
    return list(METRICS)
