"""The lines a tracked run ends with: where the run is and how to open it; when records wait
in the spool (the store could not be reached), that the store does not have all of the run
yet and, last, the exact command that sends them."""

import os

from framework.tracking.store import PASSWORD_ENV, is_http, sqlite_path, view_line
from framework.training.secrets import masked

UPLOAD_COMMAND = "python -m framework.tracking upload"


def run_lines(uri: str, experiment: str, experiment_id: str, run_id: str, status: str, kept: int, spool) -> list[str]:
    """Where run ``run_id`` is and how to open it; ``kept``: how many of its records wait in ``spool``."""
    where = f"in experiment {experiment!r} at {masked(uri)}"
    if kept:
        head = (
            f"run {run_id} ({status} here) {where} is not complete there: {kept} record(s) could not be "
            f"sent and are kept in {spool}"
        )
    else:
        head = f"run {run_id} ({status}) {where}"
    return [f"mlflow: {head}", f"mlflow: {view_line(uri, experiment_id, run_id)}"]


def upload_line(uri: str, spool) -> str:
    """The command last, so that the line's end can be pasted as it is."""
    credentials = (
        " with MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD set,"
        if is_http(uri) and os.environ.get(PASSWORD_ENV)
        else ""
    )
    path = sqlite_path(uri)
    when = (
        f"when {path} can be written again (its disk has space, no other process locks it)"
        if path
        else (f"when {masked(uri)} answers again")
    )
    return f"mlflow: {when},{credentials} send them with: {UPLOAD_COMMAND} {spool}"
