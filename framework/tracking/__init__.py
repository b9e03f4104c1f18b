"""Experiment tracking with MLflow (``logger=mlflow``); see ``docs/tracking.md``.

:class:`MLflowLogger` is the callback that records a run (params, per-epoch metrics, tags,
artifacts, the pyfunc model, its status); a multirun's parent run and the store's tools
(``python -m framework.tracking upload | repair | rerun | diff``) are the command's.
Importing this package does not import mlflow.
"""

from framework.tracking.logger import MLflowLogger
from framework.tracking.store import TrackingError, TrackingServerUnavailable

__all__ = ["MLflowLogger", "TrackingError", "TrackingServerUnavailable"]
