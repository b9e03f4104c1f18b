"""A study that must not start stops in one line before it writes anything or asks for a trial:
a storage holding another application's data, a search space the study's trials did not
use, a key the config does not have."""

import hashlib
import json
import sqlite3

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

from framework.core.errors import ConfigError
from framework.tuning.storage_guard import OPTUNA_TABLES, check_storage_is_the_studys
from framework.tuning.study import StudySettings, open_study
from tests.commands import run_command
from tests.conftest import fresh_store

QUICK = ["hydra/sweeper=optuna_study", "data=blobs", "trainer.epochs=1", "callbacks.progress=null", "logger=none"]
FIX = "give the study a database of its own, e.g. sqlite:///study.db"


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def other_application(path) -> None:
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE invoices (id INTEGER); CREATE TABLE customers (id INTEGER);")


def not_a_database(path) -> None:
    path.write_text("name,score\nann,3\n")


def assert_refused_in_one_line(result, line: str, tmp_path) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip() == line and "Traceback" not in result.stdout
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["status"] == "FAILED"
    assert not list((tmp_path / "sweep").glob("*/run.json"))  # no job started


@pytest.mark.parametrize(
    "make, why",
    [
        (fresh_store, "it holds an MLflow tracking store (tables "),
        (other_application, "it holds tables of another application (customers, invoices)"),
        (not_a_database, "the file is not an SQLite database"),
    ],
)
def test_a_database_holding_anything_else_is_refused_unchanged(tmp_path, _template_store, make, why):
    database = tmp_path / "mlflow.db"
    make(_template_store, database) if make is fresh_store else make(database)
    before = digest(database)
    result = run_command(
        "-m", *QUICK, "optimizer.lr=interval(0.001,0.1)", "hydra.sweeper.storage=sqlite:///mlflow.db",
        "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    line = result.stderr.strip()
    assert line.startswith(f"error: hydra.sweeper.storage=sqlite:///mlflow.db: {why}") and line.endswith(FIX)
    assert_refused_in_one_line(result, line, tmp_path)
    assert digest(database) == before


def test_the_mlflow_store_the_sweep_tracks_into_is_refused_unchanged(tmp_path, _template_store):
    """The storage most often mistaken for a study's: the tracking store of the sweep itself."""
    from mlflow import MlflowClient

    uri = fresh_store(_template_store, tmp_path / "mlflow.db")
    MlflowClient(tracking_uri=uri).create_experiment("framework")  # a store in use
    before = digest(tmp_path / "mlflow.db")
    result = run_command(
        "-m", *QUICK[:-1], "optimizer.lr=interval(0.001,0.1)", f"logger.tracking_uri={uri}",
        f"hydra.sweeper.storage={uri}", "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    assert result.stderr.startswith(f"error: hydra.sweeper.storage={uri}: it holds an MLflow tracking store")
    assert_refused_in_one_line(result, result.stderr.strip(), tmp_path)
    assert digest(tmp_path / "mlflow.db") == before


def test_a_journal_path_naming_a_database_is_refused_unchanged(tmp_path):
    database = tmp_path / "app.db"
    other_application(database)
    before = digest(database)
    with pytest.raises(ConfigError, match=r"=\S*app.db: it is an SQLite database, not a journal file"):
        open_study(StudySettings(str(database), "s", "minimize"))
    assert digest(database) == before


def test_the_studys_own_storages_are_joined(tmp_path):
    """A database or journal a study already lives in passes; the tables Optuna makes are all known."""
    for storage in (f"sqlite:///{tmp_path / 'study.db'}", str(tmp_path / "study.journal")):
        settings = StudySettings(storage, "s", "minimize")
        open_study(settings)
        check_storage_is_the_studys(storage)
        assert open_study(settings)[1] is False  # joined
    with sqlite3.connect(tmp_path / "study.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables <= OPTUNA_TABLES


def study_with_one_trial(storage: str):
    study = optuna.create_study(storage=storage, study_name="s")
    lr = FloatDistribution(0.001, 0.1)
    study.add_trial(create_trial(params={"optimizer.lr": 0.01}, distributions={"optimizer.lr": lr}, value=0.5))
    return study


@pytest.mark.parametrize(
    "space", ["tag(log, interval(0.0001, 0.1))", "choice(0.01, 0.1)", "interval(0.0001, 0.1)"]
)  # fmt: skip
def test_a_study_joined_over_another_space_is_refused_before_any_trial(tmp_path, space):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study_with_one_trial(storage)
    result = run_command(
        "-m", *QUICK, f"optimizer.lr={space}", f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=s",
        "hydra.sweeper.n_trials=3", "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    line = (
        f"error: optimizer.lr: the study 's' searches it over interval(0.001, 0.1), this sweep over {space}; "
        "use the same space, or another hydra.sweeper.study_name"
    )
    assert_refused_in_one_line(result, line, tmp_path)
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 1


def test_a_space_over_a_key_the_config_lacks_is_refused_before_any_trial(tmp_path):
    journal = tmp_path / "study.journal"
    result = run_command(
        "-m", *QUICK, "optimizer.lrr=interval(0.001,0.1)", "model=mlp,nosuchmodel", f"hydra.sweeper.storage={journal}",
        "hydra.sweeper.study_name=s", "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and "optimizer.lrr: no such config key" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    assert optuna.load_study(study_name="s", storage=storage).trials == []


def test_a_refused_join_leaves_a_journal_byte_for_byte_as_it_was(tmp_path):
    """Creating a study that exists appends a line to a journal before it fails: the study is loaded first."""
    journal = tmp_path / "study.journal"
    backend = optuna.storages.journal.JournalFileBackend(str(journal))
    study_with_one_trial(optuna.storages.JournalStorage(backend))
    before = journal.read_bytes()
    for refused in ("optimizer.lr=interval(0.01,0.5)", "hydra.sweeper.direction=maximize"):
        space = [] if refused.startswith("optimizer") else ["optimizer.lr=interval(0.001,0.1)"]
        result = run_command(
            "-m", *QUICK, refused, *space, f"hydra.sweeper.storage={journal}", "hydra.sweeper.study_name=s",
            "hydra.sweeper.n_trials=3", "hydra.sweep.dir=sweep", cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert journal.read_bytes() == before
