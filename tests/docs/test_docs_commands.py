"""Every shell line of README.md and docs/ is accounted for: run here as written (in a
fresh directory, by the long checks), run by .ci/run (the README's own commands), run with
its placeholders filled by a named test, or said to need more than one machine. A line
added to the docs without an entry here fails the first test, so nothing shown goes untried.
A ``$ command`` shown with its output prints exactly that."""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.shell import DOCUMENTS, REPO, all_shell_lines, examples


@dataclass(frozen=True)
class Run:
    """Run here, in a fresh directory, as written (``then`` appended, for the reason given)."""

    then: str = ""
    reason: str = ""


@dataclass(frozen=True)
class ByCI:
    """Run by .ci/run: a command it reads out of README.md after ``<!-- marker -->``, or its own set-up."""

    marker: str


@dataclass(frozen=True)
class ByTest:
    """Run, with its placeholders (or paths and hosts) filled, by this test or fixture."""

    test: str


@dataclass(frozen=True)
class Elsewhere:
    """Needs more than one machine, for the reason given."""

    reason: str


TINY_MNIST = "data.path=mnist-files data.verify_checksum=false"
PORT_5000 = "tests/conftest.py::MlflowServer"
POSTGRES = "tests/scale/postgres.py::Postgres"
TEAM_SERVER = "tests/scale/test_team_server.py::test_a_tracked_sweep_arrives_whole_on_the_team_server"
MOVED_JOB = (
    "tests/scale/test_resume_from_server.py::test_a_job_stopped_on_one_node_resumes_on_another_from_the_team_server"
)
RERUN = "tests/tracking/test_rerun.py::test_a_rerun_logs_the_same_config_and_gives_the_same_results"
TEAM_RERUN = "tests/scale/test_rerun_team_server.py::test_a_colleague_reruns_a_run_by_its_id_and_compares_the_two"

HOW: dict[str, object] = {
    "pip install -e . && python -m framework.train": ByCI("main-command"),
    'pip install -e ".[test]" -e plugins/framework-extras -e plugins/framework-contrib && python -m pytest': ByCI(
        "test-command"
    ),
    "python -m pytest -m long -v": ByCI("long-test-command"),
    "python -m pytest tests/reliability -q": ByCI("test-command"),
    "pip install -e plugins/framework-extras": ByCI("test-command"),
    'pip install "framework[sweep]"': ByCI("test-command"),
    "pip install psycopg2-binary": ByCI("test-command"),
    "python -m pip wheel --no-deps -w dist .": ByTest("tests/cli/test_wheel.py::installed"),
    "pip install dist/framework-*.whl": ByTest("tests/cli/test_wheel.py::installed"),
    "python -m framework.train optimizer=sgd optimizer.lr=0.1 optimizer.momentum=0.9": Run(),
    "python -m framework.train model.hidden=[128,64] model.dropout=0.2 trainer.epochs=30": Run(),
    "python -m framework.train data=spirals model.activation=tanh schedule=cosine": Run(),
    "python -m framework.train +experiment=notebook_003": Run(),
    "python -m framework.train +experiment=mnist_cnn": Run(TINY_MNIST, "tiny generated files: no download in tests"),
    "python -m framework.train model=cnn data.flatten=false 'model.conv=[[6,5,2],[16,5,2]]' model.hidden=[120,84]": Run(),
    "python -m framework.train --help": Run(),
    "python -m framework.train --cfg job": Run(),
    "python -m framework.train -m optimizer.lr=0.1,0.01,0.001": Run(),
    "python -m framework.train -m hydra/launcher=joblib hydra.launcher.n_jobs=2 seed=0,1,2,3": Run(),
    "python -m framework.train -m hydra/sweeper=optuna_study hydra.sweeper.n_trials=20 hydra/sweeper/pruner=median "
    "'optimizer.lr=tag(log, interval(1e-4, 1e-1))' 'model.dropout=interval(0, 0.5)'": Run(),
    "python -m framework.train logger=mlflow": Run(),
    "python -m framework.train -m logger=mlflow hydra/launcher=joblib hydra.launcher.n_jobs=2 seed=0,1,2,3": Run(),
    "mlflow ui": ByTest("tests/docs/test_mlflow_commands.py::test_mlflow_ui_serves_the_store_of_its_directory"),
    "MLFLOW_TRACKING_URI=sqlite:///mlflow.db mlflow models serve -m runs:/<run id>/<model name> --env-manager local "
    "-h 127.0.0.1 -p 5001": ByTest(
        "tests/tracking/test_models.py::test_mlflow_models_serve_answers_with_the_framework_s_predictions"
    ),
    "curl -X POST http://127.0.0.1:5001/invocations -H 'Content-Type: application/json' -d "
    "'{\"inputs\": [[0.0, 0.1, ...], [...]]}'": ByTest(
        "tests/tracking/test_models.py::test_mlflow_models_serve_answers_with_the_framework_s_predictions"
    ),
    "MLFLOW_TRACKING_URI=sqlite:///mlflow.db mlflow models predict -m runs:/<run id>/<model name> -i input.json "
    "-t json --env-manager local": ByTest("tests/docs/test_mlflow_commands.py::test_mlflow_models_predict"),
    "python -m framework.plugins": Run(),
    "python -m framework.train optimizer=lion data=moons model.activation=swish": Run(),
    "python -m framework.train optimizer.lr=abc": ByTest("tests/docs/test_docs_commands.py::test_an_example"),
    "python -m framework.train -m data=xor trainer.epochs=3 seed=0,1,2 logger=mlflow": Run(),
    "python -m framework.train -m hydra/sweeper=optuna_study hydra.sweeper.n_trials=30 "
    "'optimizer.lr=tag(log, interval(1e-4, 1e-1))' 'model.hidden=choice([64],[128],[256,128])' "
    "'trainer.batch_size=choice(32,64,128)' 'model.dropout=interval(0, 0.5)'": Run(),
    "python -m framework.train -m hydra/sweeper=optuna_study hydra.sweeper.n_trials=30 hydra/sweeper/pruner=median "
    "hydra.sweeper.pruner.n_startup_trials=5 'optimizer.lr=tag(log, interval(1e-5, 1e-1))'": Run(),
    "python -m framework.train -m hydra/sweeper=optuna_study hydra.sweeper.storage=/shared/tuning/mnist.journal "
    "hydra.sweeper.study_name=mnist-lr hydra.sweeper.n_trials=40 'optimizer.lr=tag(log, interval(1e-5, 1e-1))'": ByTest(
        "tests/scale/test_shared_study.py::test_two_sweep_processes_fill_one_study_on_postgresql"
    ),
    "python -m framework.train -m logger=mlflow seed=0,1,2,3 hydra/launcher=joblib hydra.launcher.n_jobs=2": Run(),
    "python -m framework.train -m logger=mlflow hydra/launcher=joblib hydra.launcher.n_jobs=2 "
    "optimizer.lr=0.1,0.01,0.001 seed=0,1": Run(),
    "python -m framework.train -m logger=mlflow hydra/sweeper=optuna_study hydra.sweeper.n_trials=20 "
    "'optimizer.lr=tag(log, interval(1e-4, 1e-1))' 'model.dropout=interval(0, 0.5)'": Run(),
    "mlflow ui --backend-store-uri sqlite:////path/to/mlflow.db --port 5001": ByTest(
        "tests/docs/test_mlflow_commands.py::test_mlflow_ui_serves_the_store_of_its_directory"
    ),
    "mlflow server --host 127.0.0.1 --port 5000 --backend-store-uri sqlite:///server.db --artifacts-destination "
    "./artifacts": ByTest(PORT_5000),
    "python -m framework.train logger=mlflow logger.tracking_uri=http://127.0.0.1:5000": ByTest(
        "tests/tracking/test_outage.py::test_a_server_that_never_comes_back_leaves_a_spool_that_the_upload_command_sends"
    ),
    "python -m framework.tracking upload <spool file or job directory> [...]": ByTest(
        "tests/tracking/test_outage.py::test_the_upload_command_sends_a_spool_to_a_local_store_saying_how_far_it_got"
    ),
    "python -m framework.tracking upload <spool> --tracking-uri http://other-host:5000": ByTest(
        "tests/tracking/test_outage.py::test_a_server_that_never_comes_back_leaves_a_spool_that_the_upload_command_sends"
    ),
    "python -m framework.tracking upload <job dir>/mlflow/spool.jsonl": ByTest(
        "tests/tracking/test_outage.py::test_the_upload_command_sends_a_spool_to_a_local_store_saying_how_far_it_got"
    ),
    "python -m framework.tracking repair": ByTest(
        "tests/tracking/test_repair.py::test_a_killed_run_is_ended_with_its_resume_command"
    ),
    "python -m framework.tracking rerun <run id> [--tracking-uri URI] [overrides...]": ByTest(RERUN),
    "python -m framework.tracking rerun 5dc4e7ce82d742fdbd3fb460b72adf09 seed=1 optimizer.lr=0.01": ByTest(RERUN),
    "python -m framework.tracking diff <run A> <run B> [--tracking-uri URI] [--all]": ByTest(
        "tests/tracking/test_rerun.py::test_diff_shows_the_differing_keys_the_final_metrics_and_the_versions"
    ),
    "python -m framework.tracking rerun 5dc4e7ce82d742fdbd3fb460b72adf09 --tracking-uri http://10.0.0.5:5000 "
    "trainer.epochs=50": ByTest(TEAM_RERUN),
    "python -m framework.tracking diff 5dc4e7ce82d742fdbd3fb460b72adf09 <the re-run's id> --tracking-uri "
    "http://10.0.0.5:5000": ByTest(TEAM_RERUN),
    "export MLFLOW_TRACKING_USERNAME=alice MLFLOW_TRACKING_PASSWORD=...": ByTest(
        "tests/scale/test_team_server.py::test_no_password_shows_in_output_files_or_the_tracked_data"
    ),
    "python -m framework.train -m hydra/launcher=submitit_slurm hydra.launcher.partition=cpu "
    "hydra.launcher.cpus_per_task=4 hydra.launcher.timeout_min=60 seed=0,1,2,3 optimizer.lr=0.001,0.01": ByTest(
        "tests/scale/test_slurm.py::test_a_sweep_on_slurm_is_one_parent_with_a_child_per_job"
    ),
    "apt-get install postgresql": ByCI("the machine's set-up"),
    "initdb -D /srv/mlflow/pg -U admin --pwprompt -A scram-sha-256": ByTest(POSTGRES),
    'pg_ctl -D /srv/mlflow/pg -l /srv/mlflow/pg.log -o "-h 127.0.0.1 -p 5432" -w start': ByTest(POSTGRES),
    "psql -h 127.0.0.1 -U admin -d postgres -c \"CREATE ROLE mlflow LOGIN PASSWORD 'change-me'\"": ByTest(POSTGRES),
    'psql -h 127.0.0.1 -U admin -d postgres -c "CREATE DATABASE mlflow OWNER mlflow"': ByTest(POSTGRES),
    "export PGPASSWORD=change-me": ByTest(TEAM_SERVER),
    "export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false": ByTest(TEAM_SERVER),
    "mlflow server --backend-store-uri postgresql://mlflow@127.0.0.1:5432/mlflow --artifacts-destination "
    "/srv/mlflow/artifacts --host 10.0.0.5 --port 5000": ByTest(TEAM_SERVER),
    "export MLFLOW_TRACKING_URI=http://10.0.0.5:5000": Elsewhere("a team server on another host"),
    "python -m framework.train logger=mlflow trainer.epochs=40 trainer.resume=runs:/<run id>": ByTest(
        "tests/tracking/test_resume_from_store.py::test_a_run_resumed_from_its_store_elsewhere_ends_bit_identical_in_the_same_run"
    ),
    "python -m framework.train logger=mlflow trainer.epochs=40 trainer.resume=runs:/<run id>/checkpoints/epoch-0010.npz": (
        ByTest("tests/tracking/test_resume_from_store.py::test_the_latest_checkpoint_is_the_one_furthest_into_training")
    ),
    "python -m framework.train logger=mlflow trainer.epochs=50 seed=3": ByTest(MOVED_JOB),
    "python -m framework.train logger=mlflow trainer.epochs=50 seed=3 trainer.resume=runs:/<run id>": ByTest(MOVED_JOB),
    "python -m framework.train -m hydra/launcher=submitit_slurm hydra.launcher.partition=cpu "
    "hydra.launcher.cpus_per_task=4 hydra.launcher.timeout_min=120 hydra/sweeper=optuna_study "
    "hydra.sweeper.storage=postgresql://mlflow@10.0.0.5:5432/optuna hydra.sweeper.study_name=digits-lr "
    "hydra.sweeper.n_trials=64 hydra.sweeper.n_jobs=8 hydra/sweeper/pruner=median "
    "'optimizer.lr=tag(log, interval(1e-5, 1e-1))' 'model.hidden=choice([128],[256,128],[512,256])' "
    "trainer.epochs=50": Elsewhere("a SLURM cluster and a database on another host"),
}


def test_every_shell_line_of_the_docs_is_accounted_for():
    shown = all_shell_lines()
    unaccounted = [f"{documents[0]}: {line}" for line, documents in shown.items() if line not in HOW]
    assert not unaccounted, "add each to HOW in tests/docs/test_docs_commands.py:\n" + "\n".join(unaccounted)
    stale = [line for line in HOW if line not in shown]
    assert not stale, "no longer in the docs; remove from HOW:\n" + "\n".join(stale)


def test_every_named_test_exists():
    for how in HOW.values():
        if isinstance(how, ByTest):
            path, name = how.test.split("::")
            assert re.search(rf"^\s*(def|class) {name}\b", (REPO / path).read_text(), re.M), how.test


def test_ci_runs_the_readme_commands_it_reads():
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    for marker in ("main-command", "test-command", "long-test-command"):
        (line,) = (line for line, how in HOW.items() if how == ByCI(marker) and f"```bash\n{line}\n```" in readme)
        assert readme.index(f"<!-- {marker} -->\n```bash\n{line}\n```") >= 0
        assert f"readme_command {marker})" in ci, f".ci/run does not read the {marker}"


def shell_env(directory: Path) -> dict[str, str]:
    """The environment a reader has: this Python's scripts first on PATH, nothing tracked elsewhere."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "PYTHONPATH"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


RUNS = [(line, how) for line, how in HOW.items() if isinstance(how, Run)]


@pytest.mark.long
@pytest.mark.parametrize(("line", "how"), RUNS, ids=[line for line, _ in RUNS])
def test_a_shell_line_runs_as_written(line, how, tmp_path):
    if "mnist-files" in how.then:
        _write_tiny_mnist(tmp_path / "mnist-files")
    command = f"{line} {how.then}".strip()
    result = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, env=shell_env(tmp_path), capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr[-3000:]


def _write_tiny_mnist(directory: Path) -> None:
    import numpy as np

    from tests.cli.conftest import write_idx

    directory.mkdir()
    rng = np.random.default_rng(0)
    for split, count in (("train", 200), ("t10k", 50)):
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, size=(count, 28, 28)))
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, size=count))


EXAMPLES = [example for document in DOCUMENTS for example in examples(document)]


def _matches(shown: str, printed: str) -> bool:
    """Line by line; a shown ``...`` line stands for any lines, ``/.../`` for any path."""
    pattern = "\n".join(
        r"(?:.*\n)*?.*" if line.strip() == "..." else re.escape(line).replace(re.escape("/.../"), "/.*/")
        for line in shown.splitlines()
    )
    return re.fullmatch(pattern, printed.rstrip("\n")) is not None


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.command for example in EXAMPLES])
def test_an_example(example, tmp_path):
    result = subprocess.run(
        ["bash", "-c", example.command], cwd=tmp_path, env=shell_env(tmp_path), capture_output=True, text=True
    )
    printed = result.stdout + result.stderr
    assert _matches(example.output, printed), (
        f"{example.document} shows:\n{example.output}\nthe command prints:\n{printed}"
    )
