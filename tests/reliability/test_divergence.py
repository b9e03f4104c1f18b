"""Case 5: a diverging run stops with a clear one-line error (exit status 2), its MLflow
run ends FAILED with the error, and the last good checkpoint stays intact (byte for
byte) and usable.

Adam bounds its step, so at ``optimizer.lr=1e6`` the loss stays finite (about 1e21
after one step) and only the guard's ``max_loss_factor`` catches it; a loss that
overflows to NaN (SGD) is caught too (``tests/training/test_nan_guard.py``)."""

import numpy as np
import pytest

from framework.training.checkpoint import read_checkpoint

from .conftest import (
    TINY,
    TRACKED,
    assert_all_npz_load,
    client_for,
    command,
    error_line,
    runs_of,
    steps,
    temporary_files,
)
from .testkit import sha256

pytestmark = pytest.mark.slow


def test_learning_rate_1e6_stops_at_once_with_a_clear_error_and_a_failed_run(tmp_path, store):
    run_dir = tmp_path / "run"
    result = command(
        *TINY,
        *TRACKED,
        f"logger.tracking_uri={store}",
        "optimizer.lr=1e6",  # Adam, the default optimizer
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    line = error_line(result)
    assert "nan_guard: the training loss" in line and "at epoch 1" in line
    assert "training diverged. Lower the learning rate (it is 1e+06)" in line
    assert "trainer.grad_clip_norm" in line
    assert "RuntimeWarning" not in result.stderr  # no NumPy overflow noise before the message

    [run] = runs_of(client_for(store))
    assert run.info.status == "FAILED"
    assert run.data.tags["error_type"] == "TrainingDivergedError"
    assert "training diverged" in run.data.tags["error_message"]
    assert run.data.tags["stop_reason"] == "failed"
    assert not list((run_dir / "checkpoints").glob("*.npz"))  # nothing written for the diverged state
    assert temporary_files(tmp_path) == []


def test_divergence_after_good_epochs_keeps_the_last_good_checkpoint(tmp_path, store, testkit_site):
    marks = tmp_path / "marks"
    marks.mkdir()
    run_dir = tmp_path / "run"
    result = command(
        *TINY,
        *TRACKED,
        f"logger.tracking_uri={store}",
        f"+callbacks.lr_jump={{directory: '{marks}', epoch: 3, lr: 1e6}}",  # epochs 1-2 are good
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        sites=[testkit_site],
    )
    assert result.returncode == 2
    line = error_line(result)
    assert "at epoch 3" in line and "Checkpoints written before this point are intact" in line

    checkpoints = run_dir / "checkpoints"
    last = checkpoints / "last.npz"
    assert sha256(last) == (marks / "last.sha256").read_text()  # byte for byte as before epoch 3
    assert sorted(assert_all_npz_load(checkpoints)) == ["best.npz", "epoch-0001.npz", "epoch-0002.npz", "last.npz"]
    checkpoint = read_checkpoint(last)
    assert checkpoint.manifest["completed_epochs"] == 2
    assert all(np.isfinite(array).all() for array in checkpoint.model.values())
    assert temporary_files(tmp_path) == []

    client = client_for(store)
    [run] = runs_of(client)
    assert run.info.status == "FAILED"
    assert steps(client, run.info.run_id, "loss") == [1, 2]


# -- the guard itself, without a process ----------------------------------------------------


class _Trainer:
    grad_clip_norm = None
    global_step = 2
    optimizer = type("Optimizer", (), {"lr": 1e6})()


def test_the_guard_measures_explosion_against_the_first_batch_and_keeps_that_in_checkpoints():
    from framework.training.callbacks import NaNGuard, TrainingDivergedError

    guard = NaNGuard(max_loss_factor=100)
    guard.framework_batch_end(_Trainer(), epoch=1, batch=0, loss=2.0)  # the reference
    guard.framework_batch_end(_Trainer(), epoch=1, batch=1, loss=199.0)  # below 100 x 2.0: training goes on
    restored = NaNGuard(max_loss_factor=100)
    restored.load_state_dict(guard.state_dict())  # a resumed run measures against the same first batch
    with pytest.raises(TrainingDivergedError, match=r"exploded to 201, more than 100 times the first batch's 2"):
        restored.framework_batch_end(_Trainer(), epoch=2, batch=0, loss=201.0)
    unbounded = NaNGuard(max_loss_factor=None)  # only NaN and infinity stop the run
    for batch, loss in enumerate((2.0, 1e30)):
        unbounded.framework_batch_end(_Trainer(), epoch=1, batch=batch, loss=loss)
