"""How a re-run (``python -m framework.tracking rerun``) is started again: the command a stopped
re-run prints, and ``repair`` records, to continue it from its checkpoint."""

import os

from framework.tracking.run_tags import RERUN_ENV
from framework.tracking.store import TRACKING_URI_ENV
from framework.training.secrets import masked


def rerun_command(source_id: str | None, tracking_uri: str | None) -> tuple[str, ...] | None:
    """``python -m framework.tracking rerun <source id> --tracking-uri <store>``: how a re-run started (and
    is resumed, with its overrides), when ``source_id`` names its source."""
    if not source_id:
        return None
    store = ("--tracking-uri", masked(tracking_uri)) if tracking_uri else ()
    return ("python", "-m", "framework.tracking", "rerun", source_id, *store)


def running_rerun_command() -> tuple[str, ...] | None:
    """:func:`rerun_command` of the re-run this process is running, if it is one."""
    return rerun_command(os.environ.get(RERUN_ENV), os.environ.get(TRACKING_URI_ENV))
