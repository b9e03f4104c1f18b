"""The check the store's own tools (``python -m framework.tracking upload`` and ``repair``)
make of a tracking URI before MLflow touches it: the store must already exist and answer.

Left to MLflow, a missing SQLite file becomes a new store (and a missing directory too), an
empty file is given a schema, a damaged file or an unknown scheme ends in a traceback, and
an absent server is retried for minutes. Here each of those is :class:`Refused` with one line:
what the user gave, what is wrong, and the way out; nothing is created or written.

Nothing here imports mlflow."""

from pathlib import Path
from urllib.parse import unquote, urlparse

from framework.tracking.store import (
    DATABASE_PORTS,
    DEFAULT_DB,
    TrackingError,
    database_unanswered,
    http_unanswered,
)
from framework.tuning.sqlite_file import file_trouble, is_sqlite

ANOTHER = "or give another --tracking-uri"
EXAMPLES = (
    "give --tracking-uri sqlite:///<dir>/mlflow.db (a store file), http://<host>:<port> (a server) "
    "or postgresql://<user>@<host>/<db>"
)
#: What to do when the store named is not there: the tools never create one.
FIND_IT = "give the --tracking-uri of the store your runs are in (the tools never create one)"
#: Schemes MLflow opens that cannot be checked from here; MLflow reports their errors itself.
UNCHECKED_SCHEMES = frozenset({"databricks", "databricks-uc", "uc"})


class Refused(TrackingError):
    """A store tool refuses what it was given and changed nothing (exit status 2)."""


#: How a training command names its store, where the store's tools take ``--tracking-uri``.
TRAINING_OPTION = "logger.tracking_uri="


def check_store(uri: str, given: str, option: str = "--tracking-uri ") -> None:
    """Raise :class:`Refused` unless ``uri`` names a store that exists and answers. ``given``
    is how the user named it (``--tracking-uri=...``), the start of the message; the way out
    names ``option`` (:data:`TRAINING_OPTION` for a training command)."""
    trouble = store_trouble(uri)
    if trouble is not None and option != "--tracking-uri ":
        trouble = trouble.replace("give --tracking-uri ", f"give {option}").replace(
            "--tracking-uri", option.rstrip("= ")
        )
        trouble = trouble.replace("(the tools never create one)", "(none is created)")
    if trouble is not None:
        raise Refused(f"{given}: {trouble}")


def store_trouble(uri: str) -> str | None:
    """What is wrong with the store ``uri`` and the way out (``"<what>; <way out>"``), or None."""
    try:
        parts = urlparse(uri)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        return f"not a valid URI ({exc}); {EXAMPLES}"
    scheme = parts.scheme.partition("+")[0]
    if scheme == "sqlite":
        return _sqlite_trouble(uri)
    if scheme in ("http", "https"):
        if not parts.hostname:
            return f"no host in it; {EXAMPLES}"
        reason = http_unanswered(uri)
        return reason and f"{reason}; start it (mlflow server --host <host> --port <port> ...), {ANOTHER}"
    if scheme in DATABASE_PORTS:
        reason = database_unanswered(uri, timeout=5.0)
        return reason and f"{reason}; start it, {ANOTHER}"
    if scheme in ("", "file"):
        return _path_trouble(Path(unquote(parts.path)) if scheme == "file" else Path(uri))
    if scheme in UNCHECKED_SCHEMES:
        return None
    return f"MLflow has no store for the scheme {scheme!r}; {EXAMPLES}"


def _sqlite_trouble(uri: str) -> str | None:
    rest = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else ""
    if rest in ("", ":memory:"):
        return f"not the URI of an SQLite store file (that is sqlite:///<path>, three slashes); {EXAMPLES}"
    path = Path(rest)
    try:
        return _missing(path) or _sqlite_file_trouble(path)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or type(exc).__name__}); make it readable, {ANOTHER}"


def _missing(path: Path) -> str | None:
    """Why there is no file at ``path`` (nothing is created to find out), or None when there is one."""
    if path.exists():
        return None
    above = path.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if above.is_file():
        return f"{above} is a file, so there is no store below it; {FIND_IT}"
    if above != path.parent:
        return f"no such file: {path} (not even its directory {path.parent}); {FIND_IT}"
    return f"no such file: {path}; {FIND_IT}"


def _sqlite_file_trouble(path: Path) -> str | None:
    """What is wrong with the existing ``path`` as an MLflow SQLite store, or None."""
    if path.is_dir():
        inside = path / DEFAULT_DB
        way = f"give --tracking-uri sqlite:///{inside.resolve()}" if inside.is_file() else FIND_IT
        return f"{path} is a directory, not a store file; {way}"
    if path.stat().st_size == 0:
        return (
            f"{path} is an empty file, not an MLflow store (MLflow would make a new store in it); "
            f"{FIND_IT}, or remove the empty file"
        )
    return file_trouble(path, ANOTHER)


def _path_trouble(path: Path) -> str | None:
    """A plain path or ``file:`` URI: MLflow's file store, a directory of experiment directories."""
    missing = _missing(path)
    if missing is not None:
        return missing
    inside = path / DEFAULT_DB
    if path.is_dir() and inside.is_file():
        return f"{path} is a directory holding {DEFAULT_DB}; give --tracking-uri sqlite:///{inside.resolve()}"
    if path.is_dir() and any(path.glob("*/meta.yaml")):
        return None
    if path.is_file() and is_sqlite(path):
        return f"{path} is an SQLite file, which MLflow opens as sqlite:///<path>; give --tracking-uri sqlite:///{path.resolve()}"
    what = "a directory" if path.is_dir() else "a file"
    return f"{path} is {what} but not an MLflow store; {EXAMPLES}"
