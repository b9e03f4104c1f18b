"""Registers the built-in metrics."""

from framework import hookimpl
from framework.core.metrics import METRICS


@hookimpl
def framework_register_metrics():
    return list(METRICS)
