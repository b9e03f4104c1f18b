"""A team tracking server (``docs/scale-out.md``): ``mlflow server`` on PostgreSQL with proxied
artifacts. A tracked sweep arrives whole (parent, children, every epoch's metrics, every
file, the model), also when the server is killed and restarted while the jobs run, and no
password (the server's in the tracking URI, the database's) shows up anywhere."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from framework.core.npz import load_npz
from tests.commands import run_command
from tests.conftest import MlflowServer
from tests.reliability.conftest import environment, finish, install, wait_for
from tests.scale.postgres import SERVER_ENV

pytestmark = pytest.mark.long

SEEDS = (0, 1, 2)
EPOCHS = 3
EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")
SWEEP = ["-m", "data=xor", f"trainer.epochs={EPOCHS}", "seed=" + ",".join(map(str, SEEDS)), "logger=mlflow"]
SWEEP += ["callbacks.progress=null"]
CREDENTIAL_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "PGPASSWORD")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No test reads the user's tracking settings or writes into the checkout."""
    for key in (*CREDENTIAL_ENV, "FRAMEWORK_MLFLOW_PARENT", "HYDRA_FULL_ERROR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.chdir(tmp_path)


def _client(url: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url)


def _files(client, run_id, path=None) -> set[str]:
    found = set()
    for entry in client.list_artifacts(run_id, path):
        found |= _files(client, run_id, entry.path) if entry.is_dir else {entry.path}
    return found


def _sweep_runs(client, experiment: str):
    """The sweep's parent run and its children, by job number."""
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], max_results=1000)
    parents = [run for run in runs if run.data.tags.get("sweep") == "parent"]
    assert len(parents) == 1, [
        (run.info.run_name[:20], run.info.status, run.data.tags.get("mlflow.parentRunId")) for run in runs
    ]
    [parent] = parents
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 1 + len(children), [run.info.run_name for run in runs]
    return parent, {int(run.data.tags["job_num"]): run for run in children}


def _check_child(client, run, job_dir: Path) -> None:
    """Every epoch's metrics as the job's history holds them, the test results, every file the
    logger uploads (each checkpoint the job wrote, by name), the final weights as saved, the model."""
    run_id = run.info.run_id
    assert run.info.status == "FINISHED", run.data.tags.get("error_message")
    history = load_npz(job_dir / "history.npz")
    for key in EPOCH_KEYS:
        logged = sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        assert logged == [(epoch, float(history[key][epoch - 1])) for epoch in range(1, EPOCHS + 1)], key
    assert [m.step for m in client.get_metric_history(run_id, "test_loss")] == [EPOCHS]
    checkpoints = {f"checkpoints/{path.name}" for path in (job_dir / "checkpoints").glob("*.npz")}
    expected = {
        "weights.npz",
        "history.npz",
        "confusion_matrix.csv",
        "config/config.yaml",
        "plots/confusion_matrix.svg",
    }
    expected |= {f"config/hydra/{name}.yaml" for name in ("config", "hydra", "overrides")}
    assert checkpoints and expected | checkpoints <= _files(client, run_id)
    weights = Path(client.download_artifacts(run_id, "weights.npz", str(job_dir.parent / f"download-{run_id}")))
    saved, uploaded = load_npz(job_dir / "weights.npz"), load_npz(weights)
    assert saved.keys() == uploaded.keys() and all(np.array_equal(saved[k], uploaded[k]) for k in saved)
    assert len(run.outputs.model_outputs) == 1  # the pyfunc model, logged once


def check_sweep_arrived(url: str, experiment: str, sweep_dir: Path, postgres) -> None:
    """The parent (FINISHED, with its summary) and one complete child per job, in the server's
    PostgreSQL database; no job keeps anything on disk."""
    client = _client(url)
    parent, children = _sweep_runs(client, experiment)
    assert parent.info.status == "FINISHED"
    assert sorted(children) == list(range(len(SEEDS)))
    assert parent.data.metrics["sweep/children_finished"] == len(SEEDS)
    summary = {"summary/children.csv", "summary/children.md", "summary/comparison.png", "config/multirun.yaml"}
    assert summary <= _files(client, parent.info.run_id)
    for job, run in children.items():
        assert run.data.params["seed"] == str(SEEDS[job])
        _check_child(client, run, sweep_dir / str(job))
        assert not (sweep_dir / str(job) / "mlflow").exists()  # delivered: no spool, staging removed
    assert postgres.run_count(experiment) == 1 + len(SEEDS)


def test_a_tracked_sweep_arrives_whole_on_the_team_server(team_server, postgres, tmp_path):
    experiment = f"team-{tmp_path.name}"
    started = time.monotonic()
    result = run_command(
        *SWEEP,
        f"logger.experiment_name={experiment}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
        env={"MLFLOW_TRACKING_URI": team_server.url},  # each job reads it (its logger.tracking_uri is null)
    )
    assert result.returncode == 0, result.stderr
    print(f"sweep of {len(SEEDS)} jobs took {time.monotonic() - started:.1f} s")
    check_sweep_arrived(team_server.url, experiment, tmp_path / "sweep", postgres)


def _gated_sweep(tmp_path: Path, url: str, experiment: str, site: Path) -> tuple[subprocess.Popen, Path]:
    """The sweep in parallel jobs, each pausing at the start of epochs 2 and 3 (``marks/<job>``)."""
    marks = tmp_path / "marks"
    for job in range(len(SEEDS)):
        (marks / str(job)).mkdir(parents=True)
    gate = f"+callbacks.gate={{directory: '{marks}/${{hydra:job.num}}', epochs: [2, 3]}}"
    arguments = [*SWEEP, gate, f"logger.experiment_name={experiment}", "logger.flush_every_seconds=0"]
    arguments += ["logger.connect_timeout=2", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    arguments += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={len(SEEDS)}"]
    process = subprocess.Popen(
        [sys.executable, "-m", "framework.train", *arguments],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment([site], MLFLOW_TRACKING_URI=url),
    )
    return process, marks


def _open_gates(marks: Path, epoch: int, process) -> None:
    for job in range(len(SEEDS)):
        wait_for(marks / str(job) / f"reached-{epoch}", process)
    for job in range(len(SEEDS)):
        (marks / str(job) / f"go-{epoch}").write_text("")


def _wait_until_spooled(spools: list[Path], process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(spool.is_file() and spool.stat().st_size for spool in spools):
        assert process.poll() is None, finish(process).stderr[-3000:]
        assert time.monotonic() < deadline, "the jobs never kept anything on disk during the outage"
        time.sleep(0.05)


def test_a_sweep_loses_nothing_when_the_team_server_is_killed_and_restarted(postgres, tmp_path_factory, tmp_path):
    site = install(tmp_path / "site", "reliability-testkit", "0.0.1", "testkit", "tests.reliability.testkit")
    server = MlflowServer(
        tmp_path_factory.mktemp("restarted-server"),
        backend_store_uri=postgres.uri,
        env={**SERVER_ENV, "PGPASSWORD": postgres.password},
    )
    server.start()
    process = None
    try:
        experiment, secret = f"restart-{tmp_path.name}", "spool-pw-5be1d"
        url = server.url.replace("http://", f"http://alice:{secret}@")
        process, marks = _gated_sweep(tmp_path, url, experiment, site)
        for job in range(len(SEEDS)):
            wait_for(marks / str(job) / "reached-2", process)  # every job has sent epoch 1
        pid = server.process.pid
        server.kill()  # SIGKILL to the server's process group, by its PID: a crash
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        _open_gates(marks, 2, process)
        for job in range(len(SEEDS)):
            wait_for(marks / str(job) / "reached-3", process)
        spools = [tmp_path / "sweep" / str(job) / "mlflow" / "spool.jsonl" for job in range(len(SEEDS))]
        _wait_until_spooled(spools, process)
        assert not any(secret in spool.read_text() for spool in spools)  # the password stays in the environment
        restart = server.start()  # the same port, the same PostgreSQL database
        print(f"mlflow server on PostgreSQL restarted in {restart:.1f} s")
        _open_gates(marks, 3, process)
        result = finish(process, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stderr.count("cannot reach the tracking store") == len(SEEDS)
        assert result.stderr.count("reachable again") == len(SEEDS)
        assert secret not in result.stdout + result.stderr
        check_sweep_arrived(server.url, experiment, tmp_path / "sweep", postgres)
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        server.stop()


# -- passwords ---------------------------------------------------------------------------------


def _texts_below(directory: Path) -> dict[Path, str]:
    """Every file below ``directory`` as text; an ``.npz`` as the text of its string arrays."""
    texts = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.suffix == ".npz":
            arrays = load_npz(path)
            texts[path] = " ".join(str(a) for a in arrays.values() if a.dtype.kind in "US")
        else:
            texts[path] = path.read_bytes().decode("utf-8", errors="replace")
    return texts


def _tracked_texts(client, experiment: str, directory: Path) -> dict[str, str]:
    """Each run's params, tags and name, and every text artifact it holds."""
    found = client.get_experiment_by_name(experiment)
    texts = {}
    for run in client.search_runs([found.experiment_id], max_results=1000):
        run_id = run.info.run_id
        texts[f"run {run_id}"] = json.dumps([run.info.run_name, run.data.params, run.data.tags])
        local = Path(client.download_artifacts(run_id, "", str(directory / run_id)))
        texts.update({f"{run_id}: {path.relative_to(local)}": text for path, text in _texts_below(local).items()})
    return texts


@pytest.mark.parametrize("where", ["override", "environment"])
def test_no_password_shows_in_output_files_or_the_tracked_data(team_server, postgres, tmp_path, where):
    secret = f"team-pw-{where}-7c41"
    url = team_server.url.replace("http://", f"http://alice:{secret}@")
    experiment = f"secrets-{where}-{tmp_path.name}"
    given = [f"logger.tracking_uri={url}"] if where == "override" else []
    result = run_command(
        *SWEEP[:-2], "seed=0,1", "logger=mlflow", "callbacks.progress=null", *given,
        f"logger.experiment_name={experiment}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path, env={"MLFLOW_TRACKING_URI": url} if where == "environment" else {},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "mlflow: sweep parent run" in result.stdout
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    texts.update({str(path): text for path, text in _texts_below(tmp_path / "sweep").items()})
    names = {Path(name).name for name in texts}
    assert {"train.log", "run.json", "config.yaml", "hydra.yaml", "overrides.yaml", "multirun.yaml"} <= names
    texts.update(_tracked_texts(_client(team_server.url), experiment, tmp_path / "downloads"))
    texts["database"] = postgres.dump()
    for password in (secret, postgres.password):
        assert not [name for name, text in texts.items() if password in text], password
    if where == "override":  # the override is recorded, with the password masked
        assert "logger.tracking_uri=http\\://alice\\:***@" in (tmp_path / "sweep/0/.hydra/overrides.yaml").read_text()
    server_command = Path(f"/proc/{team_server.process.pid}/cmdline").read_bytes().decode()
    assert postgres.uri in server_command and postgres.password not in server_command
    assert os.environ.get("MLFLOW_TRACKING_PASSWORD") is None  # the test process itself was left alone
