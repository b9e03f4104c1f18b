"""Case 3: the tracking server goes away in the middle of a run and comes back; at the
end every metric of every epoch is in its store and the run is FINISHED.

Two ways of going away, both against the real command: the network to the shared test
server cut and restored (a TCP proxy), and a server process killed with SIGKILL and
started again on the same port and backend store (slow: the restart takes ~10 s)."""

import shlex
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import MlflowServer, listening_addresses

from .conftest import EPOCHS, TINY, TRACKED, client_for, finish, metric_history, runs_of, start_command, wait_for

pytestmark = pytest.mark.slow

EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")


def _gated_run(tmp_path, uri, experiment, site):
    """The command tracking to ``uri``; it pauses at the start of epochs 2 and 4."""
    marks = tmp_path / "marks"
    marks.mkdir()
    run_dir = tmp_path / "run"
    process = start_command(
        *TINY,
        *TRACKED,
        f"logger.tracking_uri={uri}",
        f"logger.experiment_name={experiment}",
        "logger.connect_timeout=2",
        f"+callbacks.gate={{directory: '{marks}', epochs: [2, 4]}}",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        sites=[site],
    )
    return process, marks, run_dir


def _wait_until_spooled(run_dir, process, timeout=60):
    """Until the logger has kept something on disk (it noticed the outage)."""
    spool = run_dir / "mlflow" / "spool.jsonl"
    deadline = time.monotonic() + timeout
    while not (spool.exists() and spool.stat().st_size):
        assert process.poll() is None, finish(process).stderr
        assert time.monotonic() < deadline, "the logger never spooled anything during the outage"
        time.sleep(0.05)


def _check_everything_arrived(url, experiment, run_dir):
    client = client_for(url)
    [run] = runs_of(client, experiment)
    assert run.info.status == "FINISHED"
    history = np.load(run_dir / "history.npz")
    for key in EPOCH_KEYS:
        assert metric_history(client, run.info.run_id, key) == [
            (epoch, float(value)) for epoch, value in zip(range(1, EPOCHS + 1), history[key])
        ], key
    assert [s for s, _ in metric_history(client, run.info.run_id, "test_loss")] == [EPOCHS]
    return client, run


def test_a_cut_network_to_the_server_loses_no_metric(tmp_path, proxy, mlflow_server, testkit_site):
    experiment = f"cut-{tmp_path.name}"
    process, marks, run_dir = _gated_run(tmp_path, proxy.url, experiment, testkit_site)
    wait_for(marks / "reached-2", process)
    proxy.cut()  # epochs 2 and 3 are trained and logged while the server is unreachable
    (marks / "go-2").write_text("")
    wait_for(marks / "reached-4", process)
    _wait_until_spooled(run_dir, process)
    proxy.restore()
    (marks / "go-4").write_text("")
    result = finish(process)
    assert result.returncode == 0, result.stderr
    assert "cannot reach the tracking store" in result.stderr and "reachable again" in result.stderr
    _check_everything_arrived(mlflow_server, experiment, run_dir)
    assert not (run_dir / "mlflow").exists()  # everything delivered: no spool, staging removed


def test_a_server_that_stays_away_is_said_once_and_the_printed_upload_command_sends_the_rest(
    tmp_path, proxy, mlflow_server, testkit_site
):
    experiment = f"away-{tmp_path.name}"
    process, marks, run_dir = _gated_run(tmp_path, proxy.url, experiment, testkit_site)
    wait_for(marks / "reached-2", process)
    proxy.cut()  # until the run has ended
    for epoch in (2, 4):
        wait_for(marks / f"reached-{epoch}", process)
        (marks / f"go-{epoch}").write_text("")
    result = finish(process)
    assert result.returncode == 0, result.stderr
    printed = result.stdout + result.stderr
    assert "Retrying" not in printed + (run_dir / "train.log").read_text()  # no urllib3 warning per try
    assert result.stderr.count("cannot reach the tracking store") == 1
    assert printed.count("python -m framework.tracking upload") == 1
    status, view, upload = result.stdout.splitlines()[-3:]
    assert "(FINISHED here)" in status and f"at {proxy.url} is not complete there" in status
    assert view.startswith(f"mlflow: view it at {proxy.url}/#/experiments/")
    command = upload.partition(" send them with: ")[2]
    assert upload.startswith(f"mlflow: when {proxy.url} answers again,") and command

    proxy.restore()
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "framework.tracking"]
    sent = subprocess.run([sys.executable, *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.splitlines()[-1].endswith("nothing left, the spool is removed")
    assert not (run_dir / "mlflow" / "spool.jsonl").exists()
    _check_everything_arrived(mlflow_server, experiment, run_dir)


@pytest.mark.long  # with the long checks: a server stopped and started again, about 15 s; the cut network stays quick
def test_a_killed_and_restarted_server_loses_no_metric(tmp_path, _template_store, testkit_site):
    server = MlflowServer(tmp_path / "server", template=_template_store)
    server.start()
    try:
        assert listening_addresses(server.port) == {"127.0.0.1"}
        experiment = "restarted"
        process, marks, run_dir = _gated_run(tmp_path, server.url, experiment, testkit_site)
        wait_for(marks / "reached-2", process)
        server.kill()  # SIGKILL to the server's process group: a crash
        (marks / "go-2").write_text("")
        wait_for(marks / "reached-4", process)
        _wait_until_spooled(run_dir, process)
        restart_seconds = server.start()  # the same port, the same backend store
        (marks / "go-4").write_text("")
        result = finish(process)
        assert result.returncode == 0, result.stderr
        assert "cannot reach the tracking store" in result.stderr
        client, run = _check_everything_arrived(server.url, experiment, run_dir)
        assert not (run_dir / "mlflow").exists()  # everything delivered: no spool, staging removed
        artifacts = {entry.path for entry in client.list_artifacts(run.info.run_id)}
        assert {"weights.npz", "history.npz", "checkpoints", "config"} <= artifacts
        print(f"server restart took {restart_seconds:.1f} s")
    finally:
        server.stop()
