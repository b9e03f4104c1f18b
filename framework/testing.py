"""The conformance kit for component authors (and the core's own tests).

One call per kind of component: ``check_layer``, ``check_loss``, ``check_optimizer``,
``check_callback``, ``check_metric``, ``check_dataset``, ``check_schedule``, and
``check_config_files`` for the config files a plugin ships. Each raises
``AssertionError`` with a message saying what is wrong, so it reads well inside any
test runner::

    from framework.testing import check_layer, check_optimizer

    def test_my_layer():
        check_layer(MyLayer(units=3))

Gradient checks run in float64 with central differences and compare the whole
analytic gradient with the numeric one by relative error
``|a - n| / (|a| + |n|)`` (vector norms), which must be below ``tolerance``.
"""

from framework.conformance.callbacks import check_callback
from framework.conformance.configs import check_config_files
from framework.conformance.datasets import check_dataset
from framework.conformance.gradients import (
    check_layer_gradients,
    check_loss_gradients,
    numeric_gradient,
    relative_error,
)
from framework.conformance.layers import check_config_round_trip, check_layer, check_loss
from framework.conformance.metrics import check_metric
from framework.conformance.optimizers import check_optimizer
from framework.conformance.schedules import check_schedule

__all__ = [
    "check_callback",
    "check_config_files",
    "check_config_round_trip",
    "check_dataset",
    "check_layer",
    "check_loss",
    "check_metric",
    "check_schedule",
    "check_layer_gradients",
    "check_loss_gradients",
    "check_optimizer",
    "numeric_gradient",
    "relative_error",
]
