"""Finding a run in a tracking store by its id, for the commands that start from one
(``trainer.resume=runs:/<id>``, re-running a run, comparing two). The store is checked
before MLflow touches it (:mod:`framework.command.store_check`: a missing store is
never created); an id that is malformed or not in the store is one line that names
what the user typed, the store, and where run ids are shown."""

import os
import re

from framework.command.store_check import Refused, check_store
from framework.core.errors import ConfigError
from framework.tracking.operations import short_error
from framework.tracking.store import TRACKING_URI_ENV, configure_environment, resolve_tracking_uri
from framework.training.secrets import masked

RUNS_SCHEME = "runs:/"
#: MLflow's run ids are 32 hexadecimal digits; other stores' ids are letters, digits, ``-`` and ``_``.
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: A URI's scheme (``runs:/``, mistyped ``run:/``), not a file's path.
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


def stored(value) -> bool:
    """Whether ``trainer.resume`` names a run in a store (``runs:/...``, or a URI mistyped), not a file."""
    return bool(SCHEME.match(str(value)))


WHERE_IDS_ARE = "a run's id is on its page in the MLflow UI and in the line each tracked run prints"


def split_run_uri(value: str, key: str) -> tuple[str, str]:
    """``runs:/<run id>[/<artifact path>]`` as ``(run id, path)``; the path is ``""`` when
    none is given. Anything else is a :class:`ConfigError` naming ``key=value``."""
    text = str(value)
    rest = text[len(RUNS_SCHEME) :] if text.startswith(RUNS_SCHEME) else None
    run_id, _, path = (rest or "").lstrip("/").partition("/")
    if rest is None or not RUN_ID.fullmatch(run_id):
        raise ConfigError(f"{key}={text}: not a run URI; write {RUNS_SCHEME}<run id> or {RUNS_SCHEME}<run id>/<path>")
    path = path.strip("/")
    if any(part in ("", ".", "..") for part in path.split("/")) and path:
        raise ConfigError(f"{key}={text}: the path in it must name an artifact inside the run, without . or ..")
    return run_id, path


def open_store(tracking_uri: str | None, key: str, directory=None, option: str = "--tracking-uri "):
    """An ``MlflowClient`` on the store ``tracking_uri`` names (else ``$MLFLOW_TRACKING_URI``,
    else ``<directory>/mlflow.db``) and its URI, once the store is known to exist and answer;
    else :class:`Refused`, its line starting with ``key`` and its way out naming ``option``."""
    uri = resolve_tracking_uri(tracking_uri, directory)
    check_store(uri, f"{key} (store {masked(uri)}{_how_named(tracking_uri, option)})", option)
    configure_environment(uri)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri), uri


def _how_named(tracking_uri: str | None, option: str) -> str:
    if tracking_uri:
        return ""
    if os.environ.get(TRACKING_URI_ENV):
        return f", from ${TRACKING_URI_ENV}"
    return f", the default: no {option.strip('= ')} given, nor ${TRACKING_URI_ENV}"


def find_run(client, run_id: str, where: str):
    """The run ``run_id`` of the store ``client`` opens, or :class:`Refused` starting with ``where``."""
    from mlflow.exceptions import MlflowException

    store = masked(str(client.tracking_uri))
    if not RUN_ID.fullmatch(str(run_id)):
        raise Refused(f"{where}: {run_id!r} is not a run id; {WHERE_IDS_ARE}")
    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise Refused(f"{where}: there is no run {run_id} in {store}; {WHERE_IDS_ARE}") from None
        raise Refused(f"{where}: {store} did not give the run ({short_error(exc)}); try again") from exc
    except OSError as exc:  # the server went away (requests' errors are OSErrors)
        raise Refused(f"{where}: {store} stopped answering ({short_error(exc)}); try again when it is up") from exc
