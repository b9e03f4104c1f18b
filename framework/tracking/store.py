"""Where runs go: the tracking URI, a fast reachability check for servers, and
creating the store and experiment once (under a lock for SQLite, whose first
creation by several processes at once fails).

Nothing here imports mlflow at module level."""

import contextlib
import os
import re
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from framework.core.errors import FrameworkError
from framework.tracking.quiet import quiet_mlflow_logging
from framework.training.secrets import masked
from framework.tuning.sqlite_file import damaged, file_trouble

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
#: Where MLflow's HTTP client reads a server's basic-auth credentials, and libpq a PostgreSQL password.
USERNAME_ENV, PASSWORD_ENV, PGPASSWORD_ENV = "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "PGPASSWORD"
DEFAULT_DB = "mlflow.db"
#: Set for a tracked process when the user did not: MLflow's defaults retry a dead server for minutes.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
#: Set before mlflow is first imported, unless the user set them: no progress bars or URLs on
#: stdout (the run prints its own summary), and no usage telemetry sent to MLflow's servers.
QUIET_DEFAULTS = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


class TrackingError(FrameworkError, RuntimeError):
    """Experiment tracking cannot work as configured (the message says what to do)."""


class TrackingServerUnavailable(TrackingError):
    """The tracking server did not answer when the run started."""


def resolve_tracking_uri(tracking_uri: str | None = None, directory=None) -> str:
    """The config value, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<launch dir>/mlflow.db``
    (the store ``mlflow ui`` opens when started in that directory; by default the current one);
    credentials in it are moved to the environment (:func:`take_credentials`)."""
    if tracking_uri:
        return take_credentials(str(tracking_uri))
    if os.environ.get(TRACKING_URI_ENV):
        return take_credentials(os.environ[TRACKING_URI_ENV])
    base = Path(directory) if directory else Path.cwd()
    return f"sqlite:///{(base / DEFAULT_DB).resolve()}"


def take_credentials(uri: str) -> str:
    """``uri`` without its password, which is put where MLflow's clients read it instead:
    ``http(s)://user:password@host`` becomes ``http(s)://host`` with ``MLFLOW_TRACKING_USERNAME``
    and ``MLFLOW_TRACKING_PASSWORD`` set; ``postgresql://user:password@host/db`` becomes
    ``postgresql://user@host/db`` with ``PGPASSWORD`` set. Variables already set win (as in
    MLflow). So no spool, tag, checkpoint or message of the run ever holds the password."""
    try:
        parts = urlparse(uri)
        password = parts.password
    except ValueError:
        return uri
    if password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    if is_http(uri):
        os.environ.setdefault(USERNAME_ENV, unquote(parts.username or ""))
        os.environ.setdefault(PASSWORD_ENV, unquote(password))
        return parts._replace(netloc=host).geturl()
    if parts.scheme.split("+")[0] in ("postgresql", "postgres"):
        os.environ.setdefault(PGPASSWORD_ENV, unquote(password))
        return parts._replace(netloc=f"{parts.username}@{host}" if parts.username else host).geturl()
    return uri


def is_http(uri: str) -> bool:
    try:
        return urlparse(uri).scheme in ("http", "https")
    except ValueError:  # not a URI at all (``http://[::1``)
        return False


def sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :])


def ui_command(uri: str) -> str:
    """The command that serves the UI of a store that is not a server (a server serves its own)."""
    return f"mlflow ui --backend-store-uri {masked(uri)}"


#: MLflow 3's UI shows an experiment's GenAI pages unless the address asks for its training runs.
TRAINING_RUNS_VIEW = "workflowType=machine_learning"


def run_url(uri: str, experiment_id: str, run_id: str, ui_address: str = "http://127.0.0.1:5000") -> str:
    base = masked(uri).rstrip("/") if is_http(uri) else ui_address
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{TRAINING_RUNS_VIEW}"


def view_line(uri: str, experiment_id: str, run_id: str) -> str:
    """How to open a run: a server's page at once; a store's once ``mlflow ui`` serves it."""
    url = run_url(uri, experiment_id, run_id)
    return f"view it at {url}" if is_http(uri) else f"view it with `{ui_command(uri)}`, then open {url}"


def configure_environment(uri: str) -> None:
    """Quiet progress bars and log notes (:mod:`~framework.tracking.quiet`), no telemetry; for servers,
    retries and timeouts that fail in seconds, not minutes (only where the user has not set them).
    Called before mlflow is imported."""
    for key, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(key, value)
    quiet_mlflow_logging()
    if is_http(uri):
        for key, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)


#: The way out of a store a run cannot use.
TRACK_ELSEWHERE = "or track elsewhere (logger.tracking_uri=sqlite:///<other path>), or run with logger=none"


def check_local_store(uri: str) -> None:
    """A local SQLite store can be opened and written, checked in a moment without MLflow:
    a file that is not SQLite, a read-only file, or a directory where it cannot be created."""
    path = sqlite_path(uri)
    if path is None:
        return
    where = f"logger.tracking_uri={masked(uri)}"
    if path.is_file() and path.stat().st_size:
        trouble = file_trouble(path, TRACK_ELSEWHERE, every_page=False)  # every page: seconds for a large store
        if trouble is not None:
            raise TrackingError(f"{where}: {trouble}")
    writable = path if path.exists() else path.parent
    while not writable.exists():
        writable = writable.parent
    if writable != path and not writable.is_dir():
        raise TrackingError(
            f"{where}: {writable} is a file, not a directory, so the store cannot be created below it; track "
            "elsewhere (logger.tracking_uri=sqlite:///<directory>/mlflow.db), or run with logger=none"
        )
    if not os.access(writable, os.W_OK) or (path.exists() and not os.access(path.parent, os.W_OK)):
        raise TrackingError(
            f"{where}: {writable} is read-only, so runs cannot be recorded there; track elsewhere "
            "(logger.tracking_uri=sqlite:///<writable path>/mlflow.db), make it writable, or run with logger=none"
        )


#: Database stores MLflow opens with SQLAlchemy, and their default ports.
DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}


def database_unanswered(uri: str, timeout: float) -> str | None:
    """None when the database server of a database store accepts a connection within ``timeout``
    (or ``uri`` names none); else what happened, in a few words."""
    import socket

    parts = urlparse(uri)
    port = DATABASE_PORTS.get(parts.scheme.partition("+")[0])
    if port is None or not parts.hostname:
        return None
    address = (parts.hostname, parts.port or port)
    try:
        socket.create_connection(address, timeout=timeout).close()
    except OSError as exc:
        return (
            f"the database server at {address[0]}:{address[1]} does not accept a connection "
            f"({exc.strerror or type(exc).__name__})"
        )
    return None


def http_unanswered(uri: str, timeout: float = 5.0, attempts: int = 3) -> str | None:
    """None when the server at ``uri`` answers within ``attempts`` tries of ``timeout`` seconds
    each (about a second apart); else why not, in a few words."""
    import requests

    health = uri.rstrip("/") + "/health"
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            requests.get(health, timeout=timeout)
            # any HTTP answer: the server is there (auth or routing errors show up later, with their message)
            return None
        except requests.RequestException as exc:
            last = exc
        if attempt + 1 < attempts:
            time.sleep(0.5 * (attempt + 1))
    reason = type(last).__name__ if last else "no answer"
    return f"the MLflow tracking server does not answer ({reason} after {attempts} tries of {timeout:g} s)"


def check_server(uri: str, timeout: float = 5.0, attempts: int = 3) -> None:
    """Raise :class:`TrackingServerUnavailable` unless the server at ``uri`` answers (:func:`http_unanswered`),
    or a database store's server accepts a connection within ``timeout`` (MLflow would retry an absent one
    for minutes); a local store is checked by :func:`check_local_store`."""
    if is_http(uri):
        reason, start = http_unanswered(uri, timeout, attempts), "start it (mlflow server --host ... --port ...)"
    else:
        check_local_store(uri)
        reason, start = database_unanswered(uri, timeout), "start it"
    if reason is not None:
        raise TrackingServerUnavailable(
            f"logger.tracking_uri={masked(uri)}: {reason}; {start}, or track locally with "
            "logger.tracking_uri=sqlite:///mlflow.db, or run without tracking: logger=none"
        )


@contextlib.contextmanager
def store_lock(uri: str):
    """For SQLite stores, an exclusive lock held while the store and experiment are created:
    a lock on the store's directory, so that no lock file is left anywhere. The directory must
    exist."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    import fcntl

    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def open_experiment(uri: str, experiment_name: str):
    """An ``MlflowClient`` for ``uri`` and the id of ``experiment_name`` (created when missing),
    the store created first if needed, under :func:`store_lock`."""
    configure_environment(uri)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    path = sqlite_path(uri)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with store_lock(uri):
            client = MlflowClient(tracking_uri=uri)
            experiment = client.get_experiment_by_name(experiment_name)
            if experiment is None:
                # Artifacts of a local store live beside it (not in whatever directory created it).
                location = None
                if path is not None:
                    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", experiment_name).strip("_") or "experiment"
                    location = (path.parent.resolve() / "mlruns" / slug).as_uri()
                try:
                    experiment_id = client.create_experiment(experiment_name, artifact_location=location)
                except MlflowException as exc:  # created meanwhile by another process (a server)
                    experiment = client.get_experiment_by_name(experiment_name)
                    if experiment is None:
                        raise exc from None
                    experiment_id = experiment.experiment_id
            else:
                if experiment.lifecycle_stage == "deleted":
                    raise TrackingError(
                        f"logger.experiment_name={experiment_name!r}: this experiment was deleted in {masked(uri)}; restore it "
                        f"(mlflow experiments restore --experiment-id {experiment.experiment_id}) or use another name"
                    )
                experiment_id = experiment.experiment_id
    except TrackingError:
        raise
    except Exception as exc:
        raise TrackingError(_open_failure(uri, path, exc)) from exc
    return client, experiment_id


def _open_failure(uri: str, path: Path | None, error: Exception) -> str:
    """Why a store could not be opened: an SQLite file damaged inside (a header that looked whole),
    or locked by another process for longer than SQLite waits, in words; anything else as MLflow said it."""
    where = f"logger.tracking_uri={masked(uri)}"
    text = " ".join(str(error).split())
    if path is not None and "malformed" in text:
        return f"{where}: {damaged(path, 'database disk image is malformed', TRACK_ELSEWHERE)}"
    if path is not None and "database is locked" in text:
        return (
            f"{where}: {path} is locked by another process (a long write, or a program holding it open); "
            f"once it is done, run again, {TRACK_ELSEWHERE}"
        )
    return f"{where}: cannot open the MLflow store: {type(error).__name__}: {text.replace(uri, masked(uri))}"
