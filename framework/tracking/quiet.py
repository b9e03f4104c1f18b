"""Log lines of MLflow and its libraries that a tracked process does not show: the notes on
creating a fresh store's tables, and urllib3's warning for every retry of a call to a
tracking server that went away, and MLflow's traceback for each database error of a store
(locked, full): the sender says once that the store is away and what it keeps.
A user who sets ``MLFLOW_LOGGING_LEVEL`` sees MLflow's notes as MLflow configures them."""

import logging
import os

#: "Creating initial MLflow database tables...", "Updating database tables", alembic's migration steps.
STORE_CREATION_LOGGERS = ("mlflow.store.db.utils", "alembic")


class MlflowRetryNotes(logging.Filter):
    """Drops urllib3's ``Retrying (...)`` warnings about MLflow's REST calls (``/api/2.0/mlflow/...``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        url = record.args[-1] if isinstance(record.args, tuple) and record.args else ""
        return not (str(record.msg).startswith("Retrying") and "/mlflow" in str(url))


class StoreErrorDumps(logging.Filter):
    """Drops MLflow's ``SQLAlchemy database error`` records, each with a traceback and the SQL."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("SQLAlchemy database error")


def quiet_mlflow_logging() -> None:
    """Hide those lines for the rest of the process (safe to call again)."""
    if "MLFLOW_LOGGING_LEVEL" not in os.environ:
        for name in STORE_CREATION_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    for name, kind in (("urllib3.connectionpool", MlflowRetryNotes), ("mlflow.store.db.utils", StoreErrorDumps)):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, kind) for existing in logger.filters):
            logger.addFilter(kind())
