"""Models, data and the machine as MLflow shows them: the model named after its run with
its final metrics linked to it, the data splits as dataset inputs, system metrics, the
Model Registry, and ``mlflow models serve`` answering a REST request."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import requests

from framework.command import train
from framework.core.errors import InvalidValueError
from framework.data.digest import digest
from framework.tracking import MLflowLogger
from framework.tracking.datasets import split_inputs
from framework.tracking.registry import model_name
from tests.commands import run_command

from . import plugin
from .conftest import free_port, history_of, only_run

COMMAND = ["data=xor", "trainer.epochs=2", "callbacks.progress=null"]


def _contexts(run) -> dict:
    """``{context: dataset}`` of the run's dataset inputs."""
    found = {}
    for dataset_input in run.inputs.dataset_inputs:
        tags = {tag.key: tag.value for tag in dataset_input.tags}
        found[tags["mlflow.data.context"]] = dataset_input.dataset
    return found


@pytest.mark.long  # with the long checks: two tracked commands with models, about 7 s
def test_two_tracked_commands_register_versions_1_and_2_with_datasets_and_linked_metrics(store, client, tmp_path):
    runs = []
    for _ in range(2):
        done = run_command(
            *COMMAND, f"logger.tracking_uri={store}", "logger.register_as=xor-net", cwd=tmp_path, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
        run = client.search_runs([client.get_experiment_by_name("framework").experiment_id], max_results=1)[0]
        name = model_name(run.info.run_name)
        assert name == "data=xor,trainer-epochs=2,callbacks-progress=null"  # the run's name, made a model's
        assert f"mlflow: model runs:/{run.info.run_id}/{name}, registered as 'xor-net'" in done.stdout
        runs.append(run)
    versions = sorted(client.search_model_versions("name = 'xor-net'"), key=lambda v: int(v.version))
    assert [(int(v.version), v.run_id) for v in versions] == [(1, runs[0].info.run_id), (2, runs[1].info.run_id)]
    for version, run in zip(versions, runs, strict=True):
        assert version.tags["run_name"] == run.info.run_name and version.tags["run_id"] == run.info.run_id
        assert version.source == client.get_logged_model(run.outputs.model_outputs[0].model_id).artifact_location
        assert run.info.status == "FINISHED"
    first, second = (_contexts(run) for run in runs)
    assert sorted(first) == ["test", "train", "validation"]
    assert {c: d.digest for c, d in first.items()} == {c: d.digest for c, d in second.items()}  # same seed, same data
    assert len({d.digest for d in first.values()}) == 3
    _check_linked_metrics(client, runs[1], second)


def _check_linked_metrics(client, run, datasets):
    train_set, test_set = datasets["train"], datasets["test"]
    assert train_set.name == "xor" and train_set.source_type == "code"
    assert json.loads(train_set.source) == {"tags": {"mlflow.source.name": "generated xor"}}
    schema = json.loads(train_set.schema)["mlflow_tensorspec"]
    assert json.loads(schema["features"]) == [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]
    assert json.loads(train_set.profile)["features_shape"][1:] == [2]
    model = client.get_logged_model(run.outputs.model_outputs[0].model_id)
    assert model.name == model_name(run.info.run_name)
    linked = {m.key: m for m in model.metrics}
    assert linked["test_accuracy"].value == run.data.metrics["test_accuracy"]
    assert (linked["test_accuracy"].dataset_name, linked["test_accuracy"].dataset_digest) == ("xor", test_set.digest)
    assert linked["val_loss"].dataset_digest == datasets["validation"].digest and linked["val_loss"].step == 2
    assert linked["loss"].dataset_digest == train_set.digest
    assert history_of(client, run.info.run_id, "test_accuracy") == [(2, run.data.metrics["test_accuracy"])]
    assert len(history_of(client, run.info.run_id, "val_loss")) == 2  # linking logged no second copy in the run
    # The Models tab ranks by them.
    ranked = client.search_logged_models(
        [run.info.experiment_id], order_by=[{"field_name": "metrics.test_accuracy", "ascending": False}]
    )
    values = [{m.key: m.value for m in each.metrics}["test_accuracy"] for each in ranked]
    assert len(ranked) == 2 and values == sorted(values, reverse=True)


def test_the_digest_is_cheap_stable_and_sees_every_change():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(1437, 64)).astype(np.float32), rng.integers(0, 10, 1437)
    assert digest(x, y) == digest(x.copy(), y.copy()) and len(digest(x, y)) == 8
    changed = x.copy()
    changed[700, 3] += 1
    assert digest(changed, y) != digest(x, y)
    assert digest(x.astype(np.float64), y) != digest(x, y)
    started = time.perf_counter()
    for _ in range(10):
        digest(x, y)
    assert (time.perf_counter() - started) / 10 < 0.01  # digits' training split: well under 10 ms
    big = np.zeros((20_000, 784), np.float32)  # 63 MB: hashed by a sample of rows
    big_changed = big.copy()
    big_changed[-1, 0] = 1  # the last row is always in the sample
    assert digest(big) != digest(big_changed)


def test_an_empty_validation_split_is_not_logged():
    from framework.data import synthetic

    data = synthetic.XOR(n_samples=50, noise=0.1, val_fraction=0).load(np.random.default_rng(0))
    assert [d["context"] for d in split_inputs(data)] == ["train", "test"]


def test_a_registry_that_refuses_costs_the_run_nothing_and_says_so_in_one_line(tracked, client, monkeypatch, capfd):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    def refuse(self, *args, **kwargs):
        raise MlflowException("the registry is read-only\nhere", error_code="PERMISSION_DENIED")

    monkeypatch.setattr(MlflowClient, "create_model_version", refuse)
    result = train(tracked("logger.register_as=refused"), log=lambda *_: None)
    run = only_run(client)
    assert run.info.status == "FINISHED" and run.data.metrics["test_loss"] == result.history.test["test_loss"]
    assert len(run.outputs.model_outputs) == 1
    lines = [line for line in capfd.readouterr().err.splitlines() if "register" in line]
    assert lines == [
        "mlflow: could not register the model as 'refused' (logger.register_as): "
        "RegistryRefused: the registry is read-only here"
    ]
    assert client.search_model_versions("name = 'refused'") == []
    (logger,) = [callback for callback in result.trainer.callbacks if callback.name == "mlflow"]
    assert logger.summary_lines()[-1] == f"mlflow: model runs:/{run.info.run_id}/{model_name(run.info.run_name)}"


def test_register_as_and_system_metrics_are_checked_when_the_logger_is_made(monkeypatch):
    with pytest.raises(InvalidValueError, match=r"register_as must be a registered model's name") as bad:
        MLflowLogger(register_as="team/model")
    assert bad.value.argument == "register_as"
    with pytest.raises(InvalidValueError, match=r"register_as='x' needs the model logged"):
        MLflowLogger(register_as="x", log_model=False)
    monkeypatch.setitem(sys.modules, "psutil", None)  # as if it were not installed
    with pytest.raises(InvalidValueError, match=r"system_metrics=true needs psutil, which is not installed; pip"):
        MLflowLogger(system_metrics=True)
    assert MLflowLogger().system_metrics is False  # off by default: psutil is not needed


def test_a_missing_psutil_is_one_line_from_the_command(tmp_path):
    done = run_command(
        "logger.system_metrics=true", "callbacks.progress=null", cwd=tmp_path, env={"PYTHONPATH": _no_psutil(tmp_path)}
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: logger.system_metrics=True: system_metrics=true needs psutil")
    assert done.stderr.strip().count("\n") == 0


def _no_psutil(tmp_path) -> str:
    """A PYTHONPATH under which ``import psutil`` finds nothing (a module that says it is absent)."""
    site = tmp_path / "no-psutil"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['psutil'] = None\n")
    return os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])


def test_system_metrics_are_logged_while_the_run_lasts(tracked, client):
    cfg = tracked("logger.system_metrics=true", "logger.system_metrics_interval=0.1", "+callbacks.slow={seconds: 0.4}")
    train(cfg, plugins=plugin.plugins(), log=lambda *_: None)
    run = only_run(client)
    assert run.info.status == "FINISHED"
    for key in ("system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"):
        assert key in run.data.metrics, sorted(run.data.metrics)
        assert len(history_of(client, run.info.run_id, key)) >= 2


def test_without_system_metrics_there_are_none(tracked, client):
    train(tracked(), log=lambda *_: None)
    assert not [key for key in only_run(client).data.metrics if key.startswith("system/")]


# -- serving ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_mlflow_models_serve_answers_with_the_framework_s_predictions(tracked, client, store, tmp_path):
    result = train(tracked("logger.log_checkpoints=false", "logger.log_plots=false"), log=lambda *_: None)
    run = only_run(client)
    x = np.random.default_rng(2).uniform(0, 1, size=(5, 64)).astype(np.float32)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            f"runs:/{run.info.run_id}/{model_name(run.info.run_name)}",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": store},
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "w"),  # noqa: SIM115 - closed with the process
        start_new_session=True,  # its own process group: stopped as a whole
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(server, url, tmp_path / "serve.log")
        answer = requests.post(f"{url}/invocations", json={"inputs": x.tolist()}, timeout=30)
        assert answer.status_code == 200, answer.text
        predictions = np.asarray(answer.json()["predictions"], dtype=np.float32)
        assert np.array_equal(predictions, result.trainer.model.predict(x))
        refused = requests.post(f"{url}/invocations", json={"inputs": x[:, :3].tolist()}, timeout=30)
        assert (
            refused.status_code == 400
            and "Shape of input (5, 3) does not match expected shape (-1, 64)" in refused.text
        )
        for value, shown in ((float("nan"), "nan"), (float("inf"), "inf"), (1e39, "inf")):  # 1e39: inf in float32
            bad = x.tolist()
            bad[3][7] = value
            body = json.dumps({"inputs": bad})  # NaN and Infinity as JSON parsers read them
            refused = requests.post(
                f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=30
            )
            assert refused.status_code == 400, refused.text
            reason = refused.json()["message"].splitlines()[-1]
            assert reason.endswith(
                f"model input: sample 3 holds {shown} at position (7,); the model computes with finite float32 "
                "numbers (magnitude up to 3.4e+38): replace or drop that sample"
            ), reason
            assert "stack_trace" not in refused.json() and "Traceback" not in refused.text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _wait_until_serving(server, url, log, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"mlflow models serve did not answer within {timeout} s: {log.read_text()[-3000:]}")
