"""The MLflow commands the docs show on a tracked run, with its run id, model name and a
free port filled in: ``mlflow ui`` and ``mlflow models predict``."""

import json
import os
import re
import signal
import subprocess
import time

import pytest
import requests

from tests.conftest import free_port
from tests.docs.test_docs_commands import shell_env

pytestmark = pytest.mark.long

MODEL_URI = re.compile(r"^mlflow: model (runs:/\S+)", re.M)


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    """A directory holding ``mlflow.db`` with one tracked run, and that run's model URI."""
    directory = tmp_path_factory.mktemp("tracked")
    result = _bash("python -m framework.train logger=mlflow trainer.epochs=2 callbacks.progress=null", directory)
    return directory, MODEL_URI.search(result.stdout).group(1)


def _bash(command, directory, **options) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["bash", "-c", command], cwd=directory, env=shell_env(directory), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def test_mlflow_ui_serves_the_store_of_its_directory(tracked_run):
    directory, _ = tracked_run
    port = free_port()
    with open(directory / "ui.log", "w") as log:
        ui = subprocess.Popen(
            ["bash", "-c", f"exec mlflow ui --port {port}"],
            cwd=directory,
            env=shell_env(directory),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(ui, url, directory / "ui.log")
        experiments = requests.get(f"{url}/api/2.0/mlflow/experiments/search?max_results=10", timeout=10).json()
        ids = [e["experiment_id"] for e in experiments["experiments"] if e["name"] == "framework"]
        runs = requests.post(f"{url}/api/2.0/mlflow/runs/search", json={"experiment_ids": ids}, timeout=10).json()
        assert [run["info"]["status"] for run in runs["runs"]] == ["FINISHED"]
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)


def _wait_for_health(process, url, log, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(f"{url}/health", timeout=2).text == "OK":
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"mlflow ui did not answer in {timeout} s: {log.read_text()[-3000:]}")


def test_mlflow_models_predict(tracked_run):
    directory, model_uri = tracked_run
    rows = [[0.0] * 64, [0.5] * 64]
    (directory / "input.json").write_text(json.dumps({"inputs": rows}))
    command = (
        f"MLFLOW_TRACKING_URI=sqlite:///mlflow.db mlflow models predict -m {model_uri} "
        "-i input.json -t json --env-manager local"
    )
    result = _bash(command, directory)
    predictions = json.loads(result.stdout.strip().splitlines()[-1])["predictions"]
    assert len(predictions) == 2 and all(len(row) == 10 for row in predictions)
