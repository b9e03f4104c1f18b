"""The check the store's own tools (``python -m framework.tracking upload`` and ``repair``)
make of a tracking URI before MLflow touches it: the store must already exist and answer.

Left to MLflow, a missing SQLite file becomes a new store (and a missing directory too), an
empty file is given a schema, a damaged file or an unknown scheme ends in a traceback, and
an absent server is retried for minutes. Here each of those is :class:`Refused` with one line:
what the user gave, what is wrong, and the way out; nothing is created or written.

Nothing here imports mlflow."""

import contextlib
import sqlite3
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from framework.tracking.store import (
    DATABASE_PORTS,
    DEFAULT_DB,
    SQLITE_HEADER,
    TrackingError,
    database_unanswered,
    http_unanswered,
)

ANOTHER = "or give another --tracking-uri"
EXAMPLES = (
    "give --tracking-uri sqlite:///<dir>/mlflow.db (a store file), http://<host>:<port> (a server) "
    "or postgresql://<user>@<host>/<db>"
)
#: What to do when the store named is not there: the tools never create one.
FIND_IT = "give the --tracking-uri of the store your runs are in (the tools never create one)"
#: Schemes MLflow opens that cannot be checked from here; MLflow reports their errors itself.
UNCHECKED_SCHEMES = frozenset({"databricks", "databricks-uc", "uc"})
#: Tables every MLflow SQLite store has.
MLFLOW_TABLES = ("alembic_version", "experiments", "runs")
#: The size of an SQLite file's header, which says how many pages of what size the file holds.
SQLITE_HEADER_SIZE = 100


class Refused(TrackingError):
    """A store tool refuses what it was given and changed nothing (exit status 2)."""


def check_store(uri: str, given: str) -> None:
    """Raise :class:`Refused` unless ``uri`` names a store that exists and answers. ``given``
    is how the user named it (``--tracking-uri=...``), the start of the message."""
    trouble = store_trouble(uri)
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
    with open(path, "rb") as handle:
        head = handle.read(SQLITE_HEADER_SIZE)
    if not head:
        return (
            f"{path} is an empty file, not an MLflow store (MLflow would make a new store in it); "
            f"{FIND_IT}, or remove the empty file"
        )
    if not head.startswith(SQLITE_HEADER):
        return f"{path} is not an SQLite database, so not an MLflow store; move it aside (mv {path} {path}.not-a-store) {ANOTHER}"
    size, expected = path.stat().st_size, _sqlite_size(head)
    if len(head) < SQLITE_HEADER_SIZE or (expected and size < expected and not _has_wal(path)):
        whole = f" of {expected}" if expected else ""
        return (
            f"{path} is cut short ({size}{whole} bytes: a partial copy, or a full disk?); restore it from a backup "
            f"or move it aside (mv {path} {path}.damaged), {ANOTHER}"
        )
    return _tables_trouble(path)


def _sqlite_size(head: bytes) -> int | None:
    """The size the header of an SQLite file says the file has, when the header says it reliably."""
    page_size = int.from_bytes(head[16:18], "big")
    pages = int.from_bytes(head[28:32], "big")
    if len(head) < SQLITE_HEADER_SIZE or head[24:28] != head[92:96] or not pages:
        return None  # written by an old SQLite: the page count may be stale
    return (65536 if page_size == 1 else page_size) * pages


def _has_wal(path: Path) -> bool:
    """A write-ahead log beside the store holds pages the file does not have yet."""
    return path.with_name(path.name + "-wal").exists()


def _tables_trouble(path: Path) -> str | None:
    """Opened read-only: the file is damaged (SQLite's ``quick_check`` reads every page once,
    milliseconds for a store of a few megabytes), or holds no MLflow store; None when it is one."""
    try:
        with read_only(path) as database:
            tables = table_names(database)
            [(verdict,)] = database.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            return None  # another process is writing to it: a live store
        return f"{path} cannot be opened (SQLite: {exc}); {ANOTHER}"
    except sqlite3.DatabaseError as exc:
        return _damaged(path, str(exc))
    if verdict != "ok":
        return _damaged(path, " ".join(verdict.replace("*** in database main ***", "").split()))
    missing = [table for table in MLFLOW_TABLES if table not in tables]
    if missing:
        return f"{path} is an SQLite database but not an MLflow store (it has no {missing[0]} table); {ANOTHER}"
    return None


def _damaged(path: Path, reason: str) -> str:
    return (
        f"{path} is damaged (SQLite: {reason}); restore it from a backup or move it aside "
        f"(mv {path} {path}.damaged), {ANOTHER}"
    )


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


def is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


@contextlib.contextmanager
def read_only(path: Path):
    """An SQLite connection to ``path`` that can neither create the file nor change it."""
    with contextlib.closing(sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True)) as database:
        yield database


def table_names(database: sqlite3.Connection) -> set[str]:
    return {name for (name,) in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
