"""Case 1: ``kill -9`` during training, then resume from the last checkpoint. The run
completes, ends bit-identical to the uninterrupted run, no file is corrupt, no temporary
file is left, and the MLflow run the kill left RUNNING is continued and ended FINISHED
with every epoch's metrics once.

Two kill points: in the middle of an epoch (the usual crash), and in the middle of
writing ``last.npz`` (half the bytes written: the atomic write must keep the previous
checkpoint whole)."""

import numpy as np
import pytest

from framework.training.checkpoint import read_checkpoint

from .conftest import (
    EPOCHS,
    TINY,
    TRACKED,
    assert_all_npz_load,
    assert_same_result,
    client_for,
    command,
    kill9,
    metric_history,
    runs_of,
    start_command,
    temporary_files,
    wait_for,
)

pytestmark = pytest.mark.slow

KILL_POINTS = {
    # Batches sleep a little, so the kill lands while epoch 3 trains.
    "mid-epoch": ("marker", "+callbacks.marker={{directory: '{marks}', epoch: 3, batch: 1, sleep: 0.01}}"),
    # The write of last.npz at the end of epoch 2 stops half-way; the kill lands there.
    "mid-write": ("stalled", "+callbacks.stall_write={{directory: '{marks}', epoch: 2}}"),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_then_resume_completes_bit_identical_with_nothing_corrupt(
    point, tmp_path, store, testkit_site, reference
):
    marks = tmp_path / "marks"
    marks.mkdir()
    marker, override = KILL_POINTS[point]
    tracking = [*TRACKED, f"logger.tracking_uri={store}"]
    killed_dir = tmp_path / "killed"
    process = start_command(
        *TINY,
        *tracking,
        override.format(marks=marks),
        f"hydra.run.dir={killed_dir}",
        cwd=tmp_path,
        sites=[testkit_site],
    )
    wait_for(marks / marker, process)
    kill9(process)

    checkpoints = killed_dir / "checkpoints"
    leftovers = temporary_files(checkpoints)
    if point == "mid-write":
        # The kill landed mid-write: the half-written temporary file is there, last.npz is epoch 1's.
        assert [p.name.startswith(".last.npz.") for p in leftovers] == [True], leftovers
        assert read_checkpoint(checkpoints / "last.npz").manifest["completed_epochs"] == 1
    names = assert_all_npz_load(checkpoints)  # no .npz is corrupt, whatever the kill interrupted
    assert "last.npz" in names
    completed = read_checkpoint(checkpoints / "last.npz").manifest["completed_epochs"]
    assert 1 <= completed < EPOCHS

    client = client_for(store)
    [run] = runs_of(client)
    assert run.info.status == "RUNNING"  # SIGKILL gives the process no chance to end it

    # Resume with the command a user would type: the same run, plus trainer.resume.
    resumed_dir = tmp_path / "resumed"
    result = command(
        *TINY,
        *tracking,
        f"trainer.resume={checkpoints / 'last.npz'}",
        f"hydra.run.dir={resumed_dir}",
        cwd=tmp_path,
        sites=[testkit_site],
    )
    assert result.returncode == 0, result.stderr

    assert_same_result(resumed_dir, reference)
    assert temporary_files(tmp_path) == []  # the killed writer's leftover was removed on resume
    assert_all_npz_load(tmp_path)

    [run] = runs_of(client)  # the same run, reattached and ended
    assert run.info.status == "FINISHED"
    assert run.data.tags["resume_count"] == "1"
    assert "error_type" not in run.data.tags
    history = np.load(reference / "history.npz")
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        logged = metric_history(client, run.info.run_id, key)
        assert [step for step, _ in logged] == list(range(1, EPOCHS + 1)), key  # each epoch exactly once
        assert [value for _, value in logged] == [float(v) for v in history[key]], key
