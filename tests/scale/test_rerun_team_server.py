"""Re-running and comparing runs by id on a team tracking server (``mlflow server`` on PostgreSQL
with proxied artifacts, ``tests/scale/postgres.py``): a colleague, in a directory of their own,
re-runs a run by its id and gets its config and results; ``diff`` compares the two; a server
that has gone away is one line, exit status 2, within seconds."""

import time
from pathlib import Path

import pytest

from tests.commands import run_command, run_tool
from tests.conftest import MlflowServer
from tests.scale.postgres import SERVER_ENV

pytestmark = pytest.mark.long

RUN = ["data=xor", "trainer.epochs=2", "callbacks.progress=null", "trainer.threads=1", "seed=3"]
EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")


def _client(url: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url)


def _tracked_run(url: str, directory: Path, experiment: str):
    """A run tracked on the server at ``url``, started in ``directory``: the MLflow run."""
    directory.mkdir(parents=True, exist_ok=True)
    result = run_command(*RUN, f"logger.experiment_name={experiment}", cwd=directory, env={"MLFLOW_TRACKING_URI": url})
    assert result.returncode == 0, result.stderr[-3000:]
    client = _client(url)
    [run] = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return run


def test_a_colleague_reruns_a_run_by_its_id_and_compares_the_two(team_server, tmp_path):
    experiment = f"rerun-{tmp_path.name}"
    run = _tracked_run(team_server.url, tmp_path / "alice", experiment)
    colleague = tmp_path / "bob"
    colleague.mkdir()
    result = run_tool("rerun", run.info.run_id, "--tracking-uri", team_server.url, cwd=colleague)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"rerun: {run.info.run_id} ({run.info.run_name}) from {team_server.url}; overrides: (none)" in result.stdout
    client = _client(team_server.url)
    runs = client.search_runs([run.info.experiment_id])
    [again] = [r for r in runs if r.info.run_id != run.info.run_id]  # on the server, not in bob's directory
    assert again.data.tags["rerun_of"] == run.info.run_id and again.info.status == "FINISHED"
    assert not (colleague / "mlflow.db").exists()
    for key in EPOCH_KEYS:
        histories = [
            sorted((m.step, m.value) for m in client.get_metric_history(r.info.run_id, key)) for r in (run, again)
        ]
        assert histories[0] == histories[1], key

    compared = run_tool("diff", run.info.run_id, again.info.run_id, "--tracking-uri", team_server.url, cwd=colleague)
    assert compared.returncode == 0, compared.stderr
    lines = compared.stdout.splitlines()
    assert any(line.startswith("config: identical (") for line in lines)
    assert lines[lines.index("final metrics (* monitored: val_loss)") + 2].split()[:2] == ["*", "val_loss"]
    assert lines[-1].split() == ["status", "FINISHED", "FINISHED"]


def test_a_server_that_went_away_is_one_line_within_seconds(postgres, tmp_path_factory, tmp_path):
    server = MlflowServer(
        tmp_path_factory.mktemp("going-away"),
        backend_store_uri=postgres.uri,
        env={**SERVER_ENV, "PGPASSWORD": postgres.password},
    )
    server.start()
    try:
        run = _tracked_run(server.url, tmp_path / "alice", f"away-{tmp_path.name}")
        pid = server.process.pid
        server.kill()  # SIGKILL to the server's process group, by its PID
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        before = sorted(tmp_path.rglob("*"))
        for argv in (["rerun", run.info.run_id], ["diff", run.info.run_id, run.info.run_id]):
            started = time.monotonic()
            result = run_tool(*argv, "--tracking-uri", server.url, cwd=tmp_path)
            assert time.monotonic() - started < 30
            assert result.returncode == 2 and result.stdout == ""
            [line] = result.stderr.splitlines()
            assert line.startswith(f"error: {argv[0]} (store {server.url}): the MLflow tracking server does not answer")
            assert sorted(tmp_path.rglob("*")) == before  # nothing written
    finally:
        server.stop()
