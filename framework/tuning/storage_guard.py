"""A study keeps to a storage of its own. Before Optuna creates its tables (or appends to a
journal), the storage is read, never written, and refused when it holds something else: the
tables of another application (an MLflow store, most often: ``sqlite:///mlflow.db`` is where
runs are tracked), a file that is not a database, or a journal path naming another kind of file."""

import json
import sqlite3
from pathlib import Path

from framework.core.errors import ConfigError
from framework.tuning.sqlite_file import MLFLOW_TABLES, is_sqlite, read_only, table_names

#: The tables of Optuna's RDB storage (``alembic_version`` is its schema version).
OPTUNA_TABLES = frozenset(
    {
        "alembic_version", "studies", "study_directions", "study_system_attributes", "study_user_attributes",
        "trial_heartbeats", "trial_intermediate_values", "trial_params", "trial_system_attributes",
        "trial_user_attributes", "trial_values", "trials", "version_info",
    }
)  # fmt: skip
DATABASE_FIX = "give the study a database of its own, e.g. sqlite:///study.db"
JOURNAL_FIX = "give the study a journal file of its own, e.g. study.journal"


def check_storage_is_the_studys(storage: str) -> None:
    """Refuse ``storage`` (a database URL or a journal path) in one line when it holds anything
    but Optuna's own records; a storage that does not exist yet, or is empty, is the study's."""
    from framework.training.secrets import masked

    if "://" in storage:
        why, fix = _database_contents(storage), DATABASE_FIX
    else:
        why, fix = _journal_contents(Path(storage)), JOURNAL_FIX
    if why:
        raise ConfigError(f"hydra.sweeper.storage={masked(storage)}: {why}; {fix}")


def _database_contents(storage: str) -> str | None:
    """What the database holds that is not Optuna's, or None."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    url = make_url(storage)
    if url.get_backend_name() == "sqlite":
        return _sqlite_contents(url.database)
    engine = create_engine(url)
    try:
        return _foreign_tables(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _sqlite_contents(database: str | None) -> str | None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    if not path.is_file() or path.stat().st_size == 0:
        return None  # SQLite creates it
    if not is_sqlite(path):
        return "the file is not an SQLite database"
    return _foreign_tables(_sqlite_tables(path))


def _sqlite_tables(path: Path) -> list[str]:
    """The tables of an SQLite file, read in read-only mode (nothing is created or changed)."""
    try:
        with read_only(path) as database:
            return sorted(table_names(database))
    except sqlite3.Error as error:
        raise ConfigError(f"hydra.sweeper.storage: cannot read the tables of {path}: {error}") from error


def _foreign_tables(tables: list[str]) -> str | None:
    others = sorted(set(tables) - OPTUNA_TABLES)
    if not others:
        return None
    if set(MLFLOW_TABLES) <= set(tables):
        return f"it holds an MLflow tracking store (tables {_a_few(others, len(others))})"
    return f"it holds tables of another application ({_a_few(others, len(others))})"


def _a_few(names: list[str], total: int) -> str:
    shown = names[:3]
    return ", ".join(shown) + (f" and {total - len(shown)} more" if total > len(shown) else "")


def _journal_contents(path: Path) -> str | None:
    """What the file holds if it is not an Optuna journal, or None."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    if is_sqlite(path):
        tables = _foreign_tables(_sqlite_tables(path))
        return "it is an SQLite database, not a journal file" + (f": {tables}" if tables else "")
    with path.open("rb") as file:
        first = file.readline(1 << 20)
    try:
        record = json.loads(first)
    except ValueError:
        record = None
    if not isinstance(record, dict) or "op_code" not in record:
        return "the file is not an Optuna journal"
    return None
