"""Experiment tracking with MLflow (``logger=mlflow``); see ``docs/tracking.md``.

- :class:`MLflowLogger`: the callback that records a run (params, per-epoch
  metrics, tags, artifacts, the pyfunc model, its status).
- A multirun's parent run and its summary are the command's
  (:mod:`framework.command.sweep_callback`).
- ``python -m framework.tracking upload <spool>``: sends what an outage kept on disk.

Importing this package does not import mlflow.
"""

from framework.tracking.logger import MLflowLogger
from framework.tracking.params import config_params, flatten_config
from framework.tracking.store import (
    TrackingError,
    TrackingServerUnavailable,
    check_server,
    resolve_tracking_uri,
)
from framework.training.secrets import is_secret_key

__all__ = [
    "MLflowLogger",
    "TrackingError",
    "TrackingServerUnavailable",
    "check_server",
    "config_params",
    "flatten_config",
    "is_secret_key",
    "resolve_tracking_uri",
]
