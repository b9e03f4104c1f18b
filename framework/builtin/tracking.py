"""Registers the MLflow logger as the callback ``mlflow`` (selected with ``logger=mlflow``).

Importing this module does not import mlflow: the logger imports it when a run starts."""

from framework.tracking.logger import MLflowLogger
from framework.training.hookspecs import hookimpl


@hookimpl
def framework_register_callbacks():
    return [MLflowLogger]
