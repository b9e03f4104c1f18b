"""Outages: a server unreachable at the start fails the run in seconds; a server that
goes away mid-run loses nothing (kept on disk, delivered when it is back, or uploaded
later with ``python -m framework.tracking upload``)."""

import json
import subprocess
import sys
import time

import pytest

from framework.command import train
from framework.command import upload as upload_command
from framework.command.store_tools import main as tracking_main
from framework.tracking.sender import Sender
from framework.tracking.spool import Spool, replay
from tests.commands import run_command

from . import plugin
from .conftest import TINY, all_artifacts, free_port, history_of, only_run, tracking_of

EPOCH_KEYS = ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]


# -- the sender and the spool, without a server -------------------------------------------


class Flaky:
    """An ``execute`` that fails with ConnectionError while ``down`` and records what it sent."""

    def __init__(self):
        self.down = False
        self.sent = []

    def __call__(self, record):
        if self.down:
            raise ConnectionError("connection refused")
        self.sent.append(record["n"])


def test_the_sender_keeps_what_fails_on_disk_and_delivers_it_in_order_when_back(tmp_path):
    execute = Flaky()
    sender = Sender(Spool(tmp_path / "spool.jsonl"), interval=0, execute=execute)
    sender.put({"n": 1})
    assert sender.flush(timeout=10)
    execute.down = True
    for n in (2, 3):
        sender.put({"n": n})
        assert sender.flush(timeout=10)
    assert sender.offline and sender.outages == 1
    assert [r["n"] for r in Spool(tmp_path / "spool.jsonl").read()] == [2, 3]
    execute.down = False
    sender.put({"n": 4})
    sender.close(timeout=10)
    assert execute.sent == [1, 2, 3, 4]
    assert not sender.offline and not (tmp_path / "spool.jsonl").exists()


def test_records_refused_for_good_are_reported_not_kept(tmp_path, capsys):
    def execute(record):
        if record["n"] == 2:
            raise ValueError("bad record")

    sender = Sender(Spool(tmp_path / "spool.jsonl"), interval=0, execute=execute)
    for n in (1, 2, 3):
        sender.put({"n": n, "op": "log_batch"})
    sender.close(timeout=10)
    assert not (tmp_path / "spool.jsonl").exists() and not sender.offline
    assert len(sender.permanent_errors) == 1 and "bad record" in capsys.readouterr().err


def test_the_epochs_queued_for_a_run_reach_the_store_as_one_batch_in_their_order(tmp_path):
    sent = []
    sender = Sender(Spool(tmp_path / "spool.jsonl"), interval=3600, execute=sent.append)
    run = {"op": "log_batch", "tracking_uri": "sqlite:///x.db", "run_id": "a"}
    sender._last_send = time.monotonic()  # nothing is due: everything waits for the close
    sender.put({**run, "params": [["lr", "0.1"]], "tags": [["seed", "0"]]})
    for epoch in (1, 2, 3):
        sender.put({**run, "metrics": [["loss", 1.0 / epoch, 0, epoch]]})
    sender.put({**run, "tags": [["seed", "1"]]})  # a key the batch already has: a batch of its own
    sender.put({**run, "run_id": "b", "metrics": [["loss", 0.5, 0, 1]]})  # another run: its own
    sender.put({**run, "op": "terminate", "status": "FINISHED"})
    sender.close(timeout=10)
    assert [(r["op"], r["run_id"]) for r in sent] == [
        ("log_batch", "a"), ("log_batch", "a"), ("log_batch", "b"), ("terminate", "a"),
    ]  # fmt: skip
    assert sent[0] == {**run, "params": [["lr", "0.1"]], "tags": [["seed", "0"]], "metrics": [
        ["loss", 1.0, 0, 1], ["loss", 0.5, 0, 2], ["loss", 1.0 / 3, 0, 3],
    ]}  # fmt: skip
    assert sent[1]["tags"] == [["seed", "1"]]


def test_a_batch_refused_for_good_loses_only_the_record_that_was_refused(tmp_path, capsys):
    sent = []

    def execute(record):
        if any(name == "bad" for name, _ in record.get("params", [])):
            raise ValueError("bad param")
        sent.append(record)

    sender = Sender(Spool(tmp_path / "spool.jsonl"), interval=3600, execute=execute)
    sender._last_send = time.monotonic()
    run = {"op": "log_batch", "tracking_uri": "sqlite:///x.db", "run_id": "a"}
    sender.put({**run, "params": [["bad", "1"]]})
    for epoch in (1, 2, 3):
        sender.put({**run, "metrics": [["loss", 1.0, 0, epoch]]})
    sender.close(timeout=10)
    assert [record["metrics"][0][3] for record in sent] == [1, 2, 3]  # every epoch, each on its own
    assert len(sender.permanent_errors) == 1 and "bad param" in capsys.readouterr().err


def test_a_metric_batch_is_only_sent_when_due(tmp_path):
    execute = Flaky()
    sender = Sender(Spool(tmp_path / "spool.jsonl"), interval=3600, execute=execute)
    sender.put({"n": 1})  # the first is due at once
    deadline = time.monotonic() + 10
    while not execute.sent and time.monotonic() < deadline:
        time.sleep(0.01)
    sender.put({"n": 2})
    time.sleep(0.2)
    assert execute.sent == [1]  # batched until the interval passes, a flush or the end
    sender.close(timeout=10)
    assert execute.sent == [1, 2]


def test_the_upload_command_sends_a_spool_to_a_local_store_saying_how_far_it_got(
    tmp_path, client, store, capsys, monkeypatch
):
    monkeypatch.setattr(upload_command, "PROGRESS_EVERY", 0)  # a line after each record
    experiment = client.create_experiment("uploads")
    run_id = client.create_run(experiment).info.run_id
    spool = Spool(tmp_path / "job" / "mlflow" / "spool.jsonl")
    records = [
        {
            "op": "log_batch",
            "tracking_uri": "sqlite:///elsewhere.db",
            "run_id": run_id,
            "metrics": [["loss", 0.5, 1000, 1]],
        },
        {"op": "log_batch", "tracking_uri": "sqlite:///elsewhere.db", "run_id": run_id, "params": [["seed", "1"]]},
        {"op": "terminate", "tracking_uri": "sqlite:///elsewhere.db", "run_id": run_id, "status": "FINISHED"},
    ]
    spool.append(records)
    assert tracking_main(["upload", str(tmp_path / "job"), "--tracking-uri", store]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{spool.path}: sending 3 record(s) to {store}",
        f"{spool.path}: sent 1/3 record(s)...",
        f"{spool.path}: sent 2/3 record(s)...",
        f"{spool.path}: sent 3 record(s) to {store}; nothing left, the spool is removed",
    ]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params == {"seed": "1"}
    assert history_of(client, run_id, "loss") == [(1, 0.5)]
    assert not spool.path.exists()
    assert tracking_main(["upload", str(spool.path)]) == 2  # nothing left: says so
    assert "no such spool file" in capsys.readouterr().err


def test_replay_stops_at_the_first_unreachable_record_and_keeps_the_rest(tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    spool.append([{"op": "terminate", "tracking_uri": uri, "run_id": "r", "status": "FINISHED"}] * 2)
    started = time.monotonic()
    assert replay(spool) == (0, 2)
    assert time.monotonic() - started < 20
    assert len(spool.read()) == 2


# -- a server unreachable at the start -----------------------------------------------------------


@pytest.mark.slow
def test_an_unreachable_server_fails_the_run_within_seconds_with_a_clear_message(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for sweep in ([], ["-m", "seed=0,1"]):
        started = time.monotonic()
        result = run_command(*sweep, "logger=mlflow", f"logger.tracking_uri={uri}", *TINY, cwd=tmp_path, timeout=120)
        elapsed = time.monotonic() - started
        assert result.returncode == 2
        assert elapsed < 20, elapsed
        assert f"logger.tracking_uri={uri}: the MLflow tracking server does not answer" in result.stderr
        assert "logger=none" in result.stderr
        assert "data:" not in result.stdout  # failed before loading any data
        if not sweep:
            assert result.stderr.strip().count("\n") == 0  # one line, no traceback


# -- a real server that goes away mid-run ------------------------------------------------------------


def _server_client(url):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url)


def _check_complete(client, run, result, epochs):
    assert run.info.status == "FINISHED"
    for key in EPOCH_KEYS:
        expected = [(e, result.history[key][e - 1]) for e in range(1, epochs + 1)]
        assert history_of(client, run.info.run_id, key) == expected, key
    assert history_of(client, run.info.run_id, "test_loss") == [(epochs, result.history.test["test_loss"])]
    artifacts = all_artifacts(client, run.info.run_id)
    assert {
        "weights.npz",
        "history.npz",
        "config/config.yaml",
        "checkpoints/last.npz",
        "plots/confusion_matrix.svg",
    } <= set(artifacts)
    assert len(run.outputs.model_outputs) == 1
    linked = {m.key: m for m in client.get_logged_model(run.outputs.model_outputs[0].model_id).metrics}
    assert linked["test_loss"].value == result.history.test["test_loss"] and linked["test_loss"].step == epochs
    datasets = {tag.value: d.dataset for d in run.inputs.dataset_inputs for tag in d.tags}
    assert sorted(datasets) == ["test", "train", "validation"]
    assert linked["test_loss"].dataset_digest == datasets["test"].digest


@pytest.mark.slow
def test_a_server_that_goes_away_mid_run_gets_everything_when_it_is_back(
    mlflow_server, proxy, compose_config, tmp_path, capsys
):
    plugin.Outage.proxy = proxy
    experiment = f"outage-back-{tmp_path.name}"
    cfg = compose_config(
        "logger=mlflow",
        f"logger.tracking_uri={proxy.url}",
        f"logger.experiment_name={experiment}",
        "logger.flush_every_seconds=0",
        *TINY,
        "trainer.epochs=5",
        "+callbacks.outage={cut: 2, restore: 4}",
    )
    result = train(cfg, plugins=plugin.plugins(), log=lambda *_: None)
    err = capsys.readouterr().err
    assert "cannot reach the tracking store" in err and "reachable again" in err
    client = _server_client(mlflow_server)
    run = only_run(client, experiment)
    _check_complete(client, run, result, epochs=5)
    assert not (tmp_path / "out" / "mlflow").exists()  # spool delivered, staging removed


@pytest.mark.slow
def test_a_server_that_never_comes_back_leaves_a_spool_that_the_upload_command_sends(
    mlflow_server, proxy, compose_config, tmp_path, capsys
):
    plugin.Outage.proxy = proxy
    experiment = f"outage-gone-{tmp_path.name}"
    cfg = compose_config(
        "logger=mlflow",
        f"logger.tracking_uri={proxy.url}",
        f"logger.experiment_name={experiment}",
        "logger.flush_every_seconds=0",
        f"logger.register_as={experiment}",
        *TINY,
        "+callbacks.outage={cut: 2, restore: null}",
    )
    lines = []
    result = train(cfg, plugins=plugin.plugins(), log=lines.append)  # training is not stopped by the outage
    spool = tmp_path / "out" / "mlflow" / "spool.jsonl"
    kept = Spool(spool).read()
    run_id = tracking_of(result)["run_id"]
    err = capsys.readouterr().err
    assert err.count("cannot reach the tracking store") == 1 and "Retrying" not in err  # said once
    assert "framework.tracking upload" not in err  # said once, at the end of the summary
    assert lines[-3:] == [  # the truth, and last the command that sends the rest
        f"mlflow: run {run_id} (FINISHED here) in experiment {experiment!r} at {proxy.url} is not complete there: "
        f"{len(kept)} record(s) could not be sent and are kept in {spool}",
        f"mlflow: view it at {proxy.url}/#/experiments/{tracking_of(result)['experiment_id']}/runs/{run_id}"
        "?workflowType=machine_learning",
        f"mlflow: when {proxy.url} answers again, send them with: python -m framework.tracking upload {spool}",
    ]  # no model line: the model is not on the server yet
    assert [k["op"] for k in kept[-2:]] == ["terminate", "register_model"] and kept[-2]["status"] == "FINISHED"
    models = [k for k in kept if k["op"] == "log_model"]
    assert len(models) == 1 and models[0]["metrics"]  # the linked metrics wait in the spool too

    client = _server_client(mlflow_server)
    assert only_run(client, experiment).info.status == "RUNNING"  # until the upload
    proxy.restore()
    upload = subprocess.run(
        [sys.executable, "-m", "framework.tracking", "upload", str(spool)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upload.returncode == 0, upload.stderr
    assert "nothing left" in upload.stdout
    assert not spool.exists()
    _check_complete(client, only_run(client, experiment), result, epochs=3)
    assert tracking_of(result)["tracking_uri"] == proxy.url
    (version,) = client.search_model_versions(f"name = '{experiment}'")
    assert version.run_id == only_run(client, experiment).info.run_id


@pytest.mark.parametrize("content", ["[2026-12-01][framework][INFO] - epoch 1\n", "a,b\n1,2\n", ""])
def test_upload_refuses_a_file_that_is_not_a_spool_and_leaves_it(tmp_path, content, capsys):
    other = tmp_path / "train.log"
    other.write_text(content)
    assert tracking_main(["upload", str(other)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {other}: not a spool the framework wrote")
    assert other.read_text() == content


def test_a_spool_starts_with_its_header(tmp_path):
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append([{"n": 1}])
    assert spool.is_ours() and spool.read() == [{"n": 1}]
    assert (tmp_path / "spool.jsonl").read_text().splitlines()[0] == json.dumps(Spool.HEADER)
