"""Distributed tuning on a database: two sweep processes fill one Optuna study kept in a
PostgreSQL started by the session's fixture (the password only in ``PGPASSWORD``)."""

import optuna
import pytest

from tests.tuning.studies import fill_one_study_from_two_processes


@pytest.mark.long
def test_two_sweep_processes_fill_one_study_on_postgresql(postgres, tmp_path, _template_store):
    storage = postgres.create_database("optuna_shared")
    env = {"PGPASSWORD": postgres.password}

    def load_study():
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PGPASSWORD", postgres.password)
            return optuna.load_study(study_name="shared", storage=storage)

    fill_one_study_from_two_processes(tmp_path, _template_store, storage, load_study, env=env)
