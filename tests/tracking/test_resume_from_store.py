"""``trainer.resume=runs:/<run id>[/<path>]`` against a local SQLite store: the checkpoint a
tracked run uploaded is fetched into the new run's ``.resume/<run id>/`` and continued there,
from another directory with the original run's directory gone, ending bit-identical to an
uninterrupted run in the same MLflow run; without a path, the checkpoint furthest into
training is the one taken, whatever the store's listing order; each mistake is one line,
exit status 2, and leaves nothing behind."""

import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest

from framework.command.resume_fetch import CACHE, fetch_checkpoint
from framework.tracking.run_tags import HOST_TAG, PID_TAG
from framework.training.checkpoint import write_checkpoint
from tests.conftest import free_port, fresh_store
from tests.reliability.conftest import assert_same_result, command, error_line

EPOCHS, FIRST = 4, 2
TINY = ["data=blobs", "trainer.batch_size=32", "trainer.threads=1", "callbacks.progress=null"]
TRACKED = ["logger=mlflow", "logger.flush_every_seconds=0", "logger.log_model=false", "logger.log_plots=false"]


def train(directory: Path, *overrides, epochs=EPOCHS, env=None):
    directory.mkdir(parents=True, exist_ok=True)
    return command(
        *TINY, f"trainer.epochs={epochs}", *overrides, f"hydra.run.dir={directory / 'run'}", cwd=directory, env=env
    )


def only_run_id(store: str, experiment: str = "framework") -> str:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=store)
    [run] = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return run.info.run_id


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted, untracked run of ``EPOCHS`` epochs."""
    directory = tmp_path_factory.mktemp("reference")
    result = train(directory, "logger=none")
    assert result.returncode == 0, result.stderr
    return directory / "run"


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory, _template_store) -> tuple[str, str]:
    """The store and id of a tracked run of ``FIRST`` epochs, whose own directory is gone since."""
    directory = tmp_path_factory.mktemp("first")
    store = fresh_store(_template_store, directory / "store" / "mlflow.db")
    result = train(directory, *TRACKED, f"logger.tracking_uri={store}", epochs=FIRST)
    assert result.returncode == 0, result.stderr
    shutil.rmtree(directory / "run")
    return store, only_run_id(store)


@pytest.mark.slow
def test_a_run_resumed_from_its_store_elsewhere_ends_bit_identical_in_the_same_run(stored_run, reference, tmp_path):
    from mlflow import MlflowClient

    store, run_id = stored_run
    first_pid = MlflowClient(tracking_uri=store).get_run(run_id).data.tags[PID_TAG]
    elsewhere = tmp_path / "another-machine"
    result = train(elsewhere, *TRACKED, f"trainer.resume=runs:/{run_id}", env={"MLFLOW_TRACKING_URI": store})
    assert result.returncode == 0, result.stderr
    run_dir = elsewhere / "run"
    fetched = run_dir / CACHE / run_id / "checkpoints" / "last.npz"
    assert f"resume: runs:/{run_id}/checkpoints/last.npz fetched to {fetched}" in result.stdout
    assert fetched.is_file() and not list(fetched.parent.glob(".download-*"))
    assert_same_result(run_dir, reference)
    client = MlflowClient(tracking_uri=store)
    assert only_run_id(store) == run_id  # continued, not a new run
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["resume_count"] == "1"
    assert run.data.tags["resumed_from"] == f"runs:/{run_id}/checkpoints/last.npz"  # not the local copy
    # The process and directories of the job that continued it: repair and a second resume check these.
    assert run.data.tags["output_dir"] == str(run_dir) and run.data.tags[PID_TAG] != first_pid
    assert sorted(m.step for m in client.get_metric_history(run_id, "loss")) == list(range(1, EPOCHS + 1))


# -- which checkpoint: the furthest into training ------------------------------------------


def _checkpoint(directory: Path, name: str, epochs: int, batches: int = 0) -> Path:
    manifest = {"completed_epochs": epochs, "batches_done": batches}
    return write_checkpoint(directory / name, manifest, {"w": np.full(2, epochs, np.float32)}, {}, {})


@pytest.mark.parametrize(
    ("uploaded", "taken"),
    [
        # last.npz written by a later resume from an earlier epoch file: the epoch file is further.
        ({"last.npz": (3, 0), "epoch-0004.npz": (4, 0), "epoch-0003.npz": (3, 0)}, "epoch-0004.npz"),
        # last.npz written mid-epoch after its epoch's file: it is further.
        ({"last.npz": (4, 5), "epoch-0004.npz": (4, 0), "best.npz": (2, 0)}, "last.npz"),
        # the same position: last.npz, which the checkpoint callback writes every epoch.
        ({"epoch-0004.npz": (4, 0), "last.npz": (4, 0)}, "last.npz"),
        # by the number, not the name's order (epoch-10000 lists before epoch-9999).
        ({"epoch-9999.npz": (9999, 0), "epoch-10000.npz": (10000, 0)}, "epoch-10000.npz"),
        # only the best one uploaded
        ({"best.npz": (2, 0)}, "best.npz"),
    ],
)
def test_the_latest_checkpoint_is_the_one_furthest_into_training(uploaded, taken, store, tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=store)
    experiment = client.create_experiment("crafted", artifact_location=(tmp_path / "artifacts").as_uri())
    run_id = client.create_run(experiment).info.run_id
    for name, (epochs, batches) in uploaded.items():
        client.log_artifact(run_id, str(_checkpoint(tmp_path / "made", name, epochs, batches)), "checkpoints")
    fetched = fetch_checkpoint(f"runs:/{run_id}", store, tmp_path, tmp_path / "out")
    assert fetched.source == f"runs:/{run_id}/checkpoints/{taken}"
    assert fetched.path == tmp_path / "out" / CACHE / run_id / "checkpoints" / taken
    assert fetched.manifest["completed_epochs"] == uploaded[taken][0]
    assert sorted(p.name for p in fetched.path.parent.iterdir()) == [taken]  # only the one taken is kept

    named = fetch_checkpoint(f"runs:/{run_id}/checkpoints/{min(uploaded)}", store, tmp_path, tmp_path / "named")
    assert named.manifest["completed_epochs"] == uploaded[min(uploaded)][0]


# -- mistakes: one line, exit status 2, nothing kept -----------------------------------------


def _crafted_run(store: str, directory: Path, files: dict[str, bytes], tags: dict | None = None) -> str:
    """A run with ``files`` as its checkpoints: KILLED, or RUNNING with ``tags``."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=store)
    experiment = client.create_experiment(directory.name, artifact_location=(directory / "artifacts").as_uri())
    run_id = client.create_run(experiment, tags=tags).info.run_id
    for name, content in files.items():
        (directory / name).write_bytes(content)
        client.log_artifact(run_id, str(directory / name), "checkpoints")
    if tags is None:
        client.set_terminated(run_id, "KILLED")
    return run_id


def _truncated_checkpoint(directory: Path) -> bytes:
    whole = _checkpoint(directory, "whole.npz", 2).read_bytes()
    return whole[: len(whole) // 2]


MISTAKES = {
    "malformed": ("runs:{run}", "", "not a run URI; write runs:/<run id>"),
    "another scheme": ("run:/{run}", "", "not a run URI; write runs:/<run id>"),
    "no such run": ("runs:/0123456789abcdef0123456789abcdef", "", "there is no run 0123456789abcdef0123456789abcdef"),
    "missing path": ("runs:/{run}/checkpoints/epoch-0009.npz", "", "is not among its artifacts; resume from one of"),
    "not a checkpoint": ("runs:/{run}/weights.npz", "", "has no manifest"),
    "no checkpoints": (
        "runs:/{bare}",
        "",
        "(FINISHED) has no checkpoints among its artifacts (checkpoints/*.npz): it ran without checkpoints (callbacks.checkpoint=null), so it cannot be continued; start a new run",
    ),
    "truncated": ("runs:/{cut}", "", "truncated or corrupt .npz file"),
    "no store": (
        "runs:/{run}",
        "sqlite:///{tmp}/nowhere/mlflow.db",
        "nowhere); give the logger.tracking_uri of the store",
    ),
    "no server": ("runs:/{run}", "http://127.0.0.1:{port}", "does not answer"),
}


@pytest.fixture(scope="module")
def mistaken_runs(stored_run, tmp_path_factory) -> dict:
    """A run without checkpoints (``callbacks.checkpoint=null``) and one whose checkpoint was cut short."""
    store, run_id = stored_run
    directory = tmp_path_factory.mktemp("bare")
    result = train(directory, *TRACKED, f"logger.tracking_uri={store}", "callbacks.checkpoint=null", epochs=1)
    assert result.returncode == 0, result.stderr
    bare = next(r for r in _run_ids(store) if r != run_id)
    cut_dir = tmp_path_factory.mktemp("cut")
    cut = _crafted_run(store, cut_dir, {"last.npz": _truncated_checkpoint(cut_dir)})
    return {"run": run_id, "bare": bare, "cut": cut}


def _run_ids(store: str) -> list[str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=store)
    return [run.info.run_id for run in client.search_runs([e.experiment_id for e in client.search_experiments()])]


@pytest.mark.slow
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_mistake_is_one_line_exit_2_and_nothing_is_kept(mistake, stored_run, mistaken_runs, tmp_path):
    value, uri, expected = MISTAKES[mistake]
    value = value.format(**mistaken_runs)
    store = uri.format(tmp=tmp_path, port=free_port()) or stored_run[0]
    result = train(tmp_path / "here", *TRACKED, f"logger.tracking_uri={store}", f"trainer.resume={value}")
    assert result.returncode == 2, result.stderr
    line = error_line(result)
    assert line.startswith(f"error: trainer.resume={value}") and expected in line, line
    run_dir = tmp_path / "here" / "run"
    assert not (run_dir / CACHE).exists() and not list(run_dir.rglob("*.npz"))
    assert not (tmp_path / "nowhere").exists()  # a store that is not there is never made


@pytest.mark.slow
def test_a_run_still_running_on_this_machine_is_not_resumed_a_second_time(stored_run, tmp_path):
    """A resumed run that is running again, resumed once more by mistake: two processes would write to it."""
    store = stored_run[0]
    alive = subprocess.Popen(["sleep", "60"])
    try:
        directory = tmp_path / "live"
        directory.mkdir()
        tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(alive.pid)}
        run_id = _crafted_run(store, directory, {"last.npz": _checkpoint(directory, "c.npz", 2).read_bytes()}, tags)
        result = train(tmp_path / "here", *TRACKED, f"logger.tracking_uri={store}", f"trainer.resume=runs:/{run_id}")
        assert result.returncode == 2, result.stderr
        line = error_line(result)
        assert line.startswith(f"error: trainer.resume=runs:/{run_id}: run {run_id} is still running on this machine")
        assert f"kill -TERM {alive.pid}" in line and not (tmp_path / "here" / "run" / CACHE).exists()
    finally:
        alive.kill()
        alive.wait()
    result = train(tmp_path / "after", *TRACKED, f"logger.tracking_uri={store}", f"trainer.resume=runs:/{run_id}")
    assert "still running" not in result.stderr  # its process is gone: a lost job, no longer refused as running


@pytest.mark.parametrize(
    ("status", "params", "why"),
    [
        ("FINISHED", {"callbacks.checkpoint": "null"}, "it ran without checkpoints (callbacks.checkpoint=null)"),
        ("FINISHED", {"logger.log_checkpoints": "false"}, "it kept them on its machine (logger.log_checkpoints=false)"),
        ("RUNNING", {}, "it is still running, or its process died"),
        ("FAILED", {}, "a run that fails uploads none"),
    ],
)
def test_a_run_without_checkpoints_in_its_store_is_explained_by_its_params_and_status(status, params, why):
    from framework.command.resume_fetch import no_checkpoints

    said = no_checkpoints(status, params)
    assert said.startswith(why)
    assert ("trainer.resume=<run dir>/checkpoints/last.npz" in said) == ("callbacks.checkpoint" not in params)
