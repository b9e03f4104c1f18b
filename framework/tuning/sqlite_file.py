"""An SQLite file (an MLflow store, a study's storage), looked at without changing it: its header (is it
SQLite, is it whole), its tables (is it MLflow's), and, when asked, every page
(SQLite's ``quick_check``). Used before MLflow opens a store, which would otherwise fail
with raw SQL, or make a new store out of what it finds. Nothing here imports mlflow."""

import contextlib
import sqlite3
from pathlib import Path
from urllib.parse import quote

SQLITE_HEADER = b"SQLite format 3\x00"
#: The size of an SQLite file's header, which says how many pages of what size the file holds.
SQLITE_HEADER_SIZE = 100
#: Tables every MLflow SQLite store has.
MLFLOW_TABLES = ("alembic_version", "experiments", "runs")


def file_trouble(path: Path, another: str, every_page: bool = True) -> str | None:
    """What is wrong with the non-empty file ``path`` as an MLflow store, ending with the way out
    (``another``: how to use another store), or None. ``every_page`` reads the whole file."""
    with open(path, "rb") as handle:
        head = handle.read(SQLITE_HEADER_SIZE)
    if not head.startswith(SQLITE_HEADER):
        return f"{path} is not an SQLite database, so not an MLflow store; move it aside (mv {path} {path}.not-a-store) {another}"
    size, expected = path.stat().st_size, _sqlite_size(head)
    if len(head) < SQLITE_HEADER_SIZE or (expected and size < expected and not _has_wal(path)):
        whole = f" of {expected}" if expected else ""
        return (
            f"{path} is cut short ({size}{whole} bytes: a partial copy, or a full disk?); restore it from a backup "
            f"or move it aside (mv {path} {path}.damaged), {another}"
        )
    return _tables_trouble(path, another, every_page)


def damaged(path: Path, reason: str, another: str) -> str:
    return (
        f"{path} is damaged (SQLite: {reason}); restore it from a backup or move it aside "
        f"(mv {path} {path}.damaged), {another}"
    )


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


def _tables_trouble(path: Path, another: str, every_page: bool) -> str | None:
    """Opened read-only: the file is damaged (``quick_check`` reads every page once, milliseconds
    for a store of a few megabytes), or holds no MLflow store; None when it is one."""
    try:
        with read_only(path) as database:
            tables = table_names(database)
            verdict = database.execute("PRAGMA quick_check(1)").fetchall()[0][0] if every_page else "ok"
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            return None  # another process is writing to it: a live store
        return f"{path} cannot be opened (SQLite: {exc}); {another}"
    except sqlite3.DatabaseError as exc:
        return damaged(path, str(exc), another)
    if verdict != "ok":
        return damaged(path, " ".join(verdict.replace("*** in database main ***", "").split()), another)
    missing = [table for table in MLFLOW_TABLES if table not in tables]
    if missing:
        return f"{path} is an SQLite database but not an MLflow store (it has no {missing[0]} table); {another}"
    return None
