"""One tracked run, end to end, against a local SQLite store per test: params,
metrics per epoch, tags, artifacts, the model, and the run's status on success,
on an error and on an interruption; resuming continues the same run."""

import json
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from framework.command import JobContext, train
from framework.training.checkpoint import read_checkpoint
from framework.training.interrupts import Interrupted
from tests.commands import run_command, start_command, terminate_when

from . import plugin
from .conftest import TINY, all_artifacts, history_of, only_run, tracking_of

REPO = Path(__file__).resolve().parents[2]
EPOCH_KEYS = ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
SECRETS = {
    "storage.api_key": "abcd1234secret",
    "db.password": "hunter22",
    "hub.token": "tok-5678",
    "aws.secret": "aws-9999",
}


def _git_head() -> str | None:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


@pytest.mark.slow
def test_a_run_records_params_metrics_tags_artifacts_and_model(tracked, client, tmp_path):
    lines = []
    secrets = [f"+{key}={value}" for key, value in SECRETS.items()]
    cfg = tracked(*secrets, "+misc.x_key=visible", f"logger.launch_dir={REPO}", "logger.tags={team: vision}")
    result = train(cfg, log=lines.append)
    run = only_run(client)
    run_id = run.info.run_id
    assert run.info.status == "FINISHED"

    # params: the resolved config, dotted, readable, and no secret
    params = run.data.params
    assert params["optimizer.lr"] == "0.001" and params["optimizer.name"] == "adam"
    assert params["model.hidden"] == "[64, 32]" and params["trainer.epochs"] == "3"
    assert params["callbacks.progress"] == "null" and params["seed"] == "0"
    assert params["misc.x_key"] == "visible"
    # per-job paths are tags: they would make every child differ in MLflow's compare view
    out = tmp_path / "out"
    paths = {"output_dir": out, "logger.output_dir": out, "callbacks.checkpoint.directory": out / "checkpoints"}
    assert not set(paths) & set(params)
    assert {key: run.data.tags[key] for key in paths} == {key: str(path) for key, path in paths.items()}
    assert not [key for key in params if key.rsplit(".", 1)[-1] in ("api_key", "password", "token", "secret")]
    everything = json.dumps([params, run.data.tags])
    assert not [value for value in SECRETS.values() if value in everything]

    # metrics: every epoch value at step = epoch, exactly as in the history; test results at the last step
    history = result.history
    for key in EPOCH_KEYS:
        assert history_of(client, run_id, key) == [(epoch, history[key][epoch - 1]) for epoch in (1, 2, 3)], key
    for key in ("test_loss", "test_accuracy"):
        assert history_of(client, run_id, key) == [(3, history.test[key])]

    # tags
    tags = run.data.tags
    assert tags["framework_version"] and tags["plugin.framework"] == tags["framework_version"]
    assert "framework.builtin.tracking" in json.loads(tags["plugins"])
    assert tags["component.optimizer"].startswith("adam (framework ")
    assert tags["component.logger"].startswith("mlflow (framework ")
    assert tags["seed"] == "0" and tags["team"] == "vision"
    assert tags["stop_reason"] == "completed" and tags["epochs_completed"] == "3"
    assert tags["command"]
    if _git_head():
        assert tags["git_commit"] == tags["mlflow.source.git.commit"] == _git_head()

    _check_artifacts_and_model(client, run, result, tmp_path)
    tracking = tracking_of(result)
    assert tracking == {"run_id": run_id, "tracking_uri": client.tracking_uri, "experiment_id": run.info.experiment_id}
    assert read_checkpoint(tmp_path / "out" / "checkpoints" / "last.npz").callbacks["mlflow"] == tracking
    assert any("mlflow ui --backend-store-uri " + client.tracking_uri in line for line in lines)
    assert any(run_id in line for line in lines)
    assert not (tmp_path / "out" / "mlflow").exists()  # everything delivered: staging removed


def _check_artifacts_and_model(client, run, result, tmp_path):
    run_id, history = run.info.run_id, result.history
    assert all_artifacts(client, run_id) == [
        "checkpoints/best.npz",
        "checkpoints/epoch-0002.npz",
        "checkpoints/epoch-0003.npz",
        "checkpoints/last.npz",
        "config/config.yaml",
        "confusion_matrix.csv",
        "history.npz",
        "plots/confusion_matrix.svg",
        "weights.npz",
    ]  # the per-epoch curves are MLflow's own charts of the logged metrics
    downloads = Path(client.download_artifacts(run_id, "", str(tmp_path / "downloaded")))
    config_text = (downloads / "config" / "config.yaml").read_text()
    checkpoint_text = str(np.load(downloads / "checkpoints" / "last.npz")["manifest"])
    for text in (config_text, checkpoint_text):
        assert not [value for value in SECRETS.values() if value in text]
    assert "password: '***'" in config_text and "x_key: visible" in config_text
    weights = np.load(downloads / "weights.npz")
    for name, array in result.trainer.model.state_dict().items():
        assert np.array_equal(weights[name], array)
    assert np.array_equal(np.load(downloads / "history.npz")["val_loss"], history["val_loss"])
    assert len(run.outputs.model_outputs) == 1


def test_an_error_ends_the_run_failed_with_its_type_and_message(tracked, client):
    cfg = tracked("+callbacks.fail_at={epoch: 2}", "logger.log_model=false")
    with pytest.raises(RuntimeError, match="boom at epoch 2"):
        train(cfg, plugins=plugin.plugins(), log=lambda *_: None)
    run = only_run(client)
    assert run.info.status == "FAILED"
    assert run.data.tags["error_type"] == "PluginError"  # a callback's unexpected error names its plugin
    assert run.data.tags["error_message"] == (
        "callback 'fail_at' from plugin 'tracking-tests' (registered in code) failed in framework_batch_end: "
        "RuntimeError: boom at epoch 2"
    )
    assert run.data.tags["stop_reason"] == "failed"
    assert [step for step, _ in history_of(client, run.info.run_id, "loss")] == [1]
    assert "history.npz" in all_artifacts(client, run.info.run_id)


def test_an_interrupted_run_is_killed_and_resuming_continues_the_same_run(tracked, client, tmp_path):
    # SIGTERM as the trainer turns it into an error: in batch 0 of epoch 2, after a checkpoint was written.
    with pytest.raises(Interrupted) as interrupted:
        train(tracked("+callbacks.fail_at={epoch: 2, error: sigterm}"), plugins=plugin.plugins(), log=print)
    checkpoint = interrupted.value.checkpoint
    run = only_run(client)
    run_id = run.info.run_id
    assert run.info.status == "KILLED"
    assert run.data.tags["error_type"] == "Interrupted"
    assert run.data.tags["error_message"] == "training interrupted by SIGTERM"
    assert run.data.tags["resume_checkpoint"] == str(checkpoint)
    assert "checkpoints/last.npz" in all_artifacts(client, run_id)
    assert [step for step, _ in history_of(client, run_id, "loss")] == [1]

    # Resume with one more epoch: the same run, no duplicate-param error, steps 2..4 follow step 1.
    resumed = tracked(f"trainer.resume={checkpoint}", "trainer.epochs=4", output_dir=tmp_path / "out2")
    result = train(resumed, log=lambda *_: None)
    run = only_run(client)
    assert run.info.run_id == run_id and run.info.status == "FINISHED"
    for key in EPOCH_KEYS:
        assert history_of(client, run_id, key) == [(e, result.history[key][e - 1]) for e in (1, 2, 3, 4)], key
    tags = run.data.tags
    assert tags["resume_count"] == "1" and tags["resumed_from"] == str(checkpoint)
    changed = json.loads(tags["resume_changed_params"])
    assert changed["trainer.epochs"] == ["3", "4"]
    assert "error_type" not in tags and "error_message" not in tags
    assert run.data.params["trainer.epochs"] == "3"  # params cannot change in MLflow: the tag says what did
    assert tracking_of(result)["run_id"] == run_id


def test_the_logger_works_in_a_notebook_without_hydra(store, client):
    import framework as fw
    from framework.tracking import MLflowLogger

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    model = fw.Sequential([fw.Dense(8), fw.Tanh(), fw.Dense(2)], input_shape=(2,), rng=rng)
    logger = MLflowLogger(tracking_uri=store, experiment_name="notebook", log_model=False, flush_every_seconds=0)
    trainer = fw.Trainer(
        model, fw.SoftmaxCrossEntropy(), fw.Adam(lr=0.05), epochs=2, batch_size=16, rng=rng, callbacks=[logger]
    )
    trainer.fit(x, y, validation_data=(x[:16], y[:16]))
    run = only_run(client, "notebook")
    assert run.info.status == "FINISHED"
    assert [s for s, _ in history_of(client, run.info.run_id, "val_loss")] == [1, 2]
    assert not Path(logger.staging).exists()


def test_logger_none_never_imports_mlflow(tmp_path):
    script = f"""
import sys
from hydra import compose, initialize_config_dir
from framework.command.paths import conf_dir
from framework.command import train
import framework.tracking, framework.builtin.tracking
from framework.plugins import default_plugins
default_plugins()
with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
    cfg = compose("config", overrides=["logger=none", "output_dir={tmp_path / "a"}", *{TINY!r}])
train(cfg, log=lambda *_: None)
sys.argv = ["framework.train", "logger=none", "hydra.run.dir={tmp_path / "b"}", *{TINY!r}]
from framework.command.entry import main
main()
print("mlflow imported:", "mlflow" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("mlflow imported: False")
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
def test_sigterm_ends_the_run_killed_with_a_checkpoint_to_resume(tmp_path, store, client):
    args = [
        "logger=mlflow",
        f"logger.tracking_uri={store}",
        "logger.flush_every_seconds=0",
        "logger.log_model=false",
        "trainer.epochs=500",
        "model.hidden=[256,256]",
        "callbacks.progress=null",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    process = start_command(*args, cwd=tmp_path)

    def two_epochs_recorded():
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        return bool(runs) and len(client.get_metric_history(runs[0].info.run_id, "loss")) >= 2

    stderr = terminate_when(process, two_epochs_recorded, timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "trainer.resume=" in stderr
    run = only_run(client)
    assert run.info.status == "KILLED"
    tags = run.data.tags
    assert tags["error_type"] == "Interrupted" and "SIGTERM" in tags["error_message"]
    assert tags["resume_checkpoint"] == str(tmp_path / "run" / "checkpoints" / "last.npz")
    assert "checkpoints/last.npz" in all_artifacts(client, run.info.run_id)
    completed = int(tags["epochs_completed"])
    assert [s for s, _ in history_of(client, run.info.run_id, "loss")] == list(range(1, completed + 1))


@pytest.mark.slow
def test_the_command_tracks_into_the_launch_directory_with_hydra_files_and_redacted_secrets(tmp_path):
    from mlflow import MlflowClient

    result = run_command(
        "logger=mlflow", "logger.log_model=false", "+db.password=hunter22", *TINY, "hydra.run.dir=run", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    run = only_run(client)
    assert result.stdout.splitlines()[-2:] == [  # the store was created by this run: no notes of MLflow's
        f"mlflow: run {run.info.run_id} (FINISHED) in experiment 'framework' at {uri}",
        f"mlflow: view it with `mlflow ui --backend-store-uri {uri}`, then open "
        f"http://127.0.0.1:5000/#/experiments/1/runs/{run.info.run_id}?workflowType=machine_learning",
    ]
    assert result.stderr == ""
    assert "database tables" not in result.stdout and "alembic" not in result.stdout
    assert run.info.status == "FINISHED"
    assert run.data.tags["overrides"] == shlex.join(
        ["logger=mlflow", "logger.log_model=false", "+db.password=***", *TINY]
    )
    assert run.info.run_name == ",".join(["+db.password=***", *TINY])  # named from the overrides
    assert "hunter22" not in json.dumps([run.data.params, run.data.tags])
    artifacts = all_artifacts(client, run.info.run_id)
    assert {"config/hydra/config.yaml", "config/hydra/hydra.yaml", "config/hydra/overrides.yaml"} <= set(artifacts)
    downloaded = Path(client.download_artifacts(run.info.run_id, "config", str(tmp_path / "dl")))
    for path in downloaded.rglob("*.yaml"):
        assert "hunter22" not in path.read_text(), path
    assert (tmp_path / "mlruns").is_dir()  # artifacts beside the store, in the launch directory


def test_a_run_name_shows_values_as_their_params_do(tracked, client):
    cfg = tracked("model.hidden=[16,8]", "optimizer.lr=0.0031622776601683794")
    overrides = ("model.hidden=[16,8]", "optimizer.lr=0.0031622776601683794", "logger=mlflow")
    train(cfg, log=lambda *_: None, context=JobContext(overrides=overrides))
    run = only_run(client)
    assert run.info.run_name == "model.hidden=[16, 8],optimizer.lr=0.003162"
    assert run.data.params["model.hidden"] == "[16, 8]"  # filtering on what the name shows finds the run


def test_a_tracked_run_writes_its_weights_and_history_once_and_uploads_those_files(
    tracked, client, store, tmp_path, monkeypatch
):
    import framework.training.trainer as trainer_module
    from framework.command.recipe import train
    from framework.tracking import pyfunc

    written = []
    for module in (trainer_module, pyfunc):
        save = module.save_npz
        monkeypatch.setattr(
            module, "save_npz", lambda path, arrays, save=save: written.append(Path(path).name) or save(path, arrays)
        )
    result = train(tracked("logger.log_checkpoints=false", output_dir=tmp_path / "out"), log=lambda *_: None)
    assert sorted(written) == ["history.npz", "weights.npz"]  # not again for the upload, nor for the model
    run = only_run(client)
    uploaded = Path(client.download_artifacts(run.info.run_id, "weights.npz", str(tmp_path / "downloaded")))
    assert uploaded.read_bytes() == (result.output_dir / "weights.npz").read_bytes()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    served = pyfunc.mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/{run.info.run_name}")
    x = np.zeros((2, 64), dtype=np.float32)
    assert np.array_equal(served.predict(x), result.trainer.model.predict(x))
