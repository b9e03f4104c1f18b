"""Case 2: SIGINT (Ctrl-C) and SIGTERM stop the real command after the current batch:
a checkpoint is written, the MLflow run is marked KILLED, the exit status is non-zero
(128 + the signal), and stderr holds one line with the command that resumes it. That
command, pasted as printed (checked after Ctrl-C), finishes the same MLflow run
bit-identical to a run that was never interrupted."""

import shlex
import signal

import pytest

from framework.training.checkpoint import read_checkpoint

from .conftest import (
    EPOCHS,
    TINY,
    TRACKED,
    assert_all_npz_load,
    assert_same_result,
    client_for,
    finish,
    runs_of,
    start_command,
    steps,
    temporary_files,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_checkpoints_marks_killed_and_prints_the_resume_command(
    signum, tmp_path, store, testkit_site, reference
):
    marks = tmp_path / "marks"
    marks.mkdir()
    run_dir = tmp_path / "run"
    process = start_command(
        *TINY,
        *TRACKED,
        f"logger.tracking_uri={store}",
        # A value with spaces and braces: the printed command must quote it for the shell.
        f"+callbacks.marker={{directory: '{marks}', epoch: 2, batch: 1, sleep: 0.01}}",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        sites=[testkit_site],
    )
    wait_for(marks / "marker", process)
    process.send_signal(signum)
    result = finish(process)

    assert result.returncode == 128 + signum, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    name = signal.Signals(signum).name
    message, _, resume = lines[0].partition("; resume with: ")
    assert message == f"training interrupted by {name}"
    last = run_dir / "checkpoints" / "last.npz"
    assert resume.endswith(f"trainer.resume={last}")

    manifest = read_checkpoint(last).manifest
    assert manifest["completed_epochs"] == 1 and manifest["batches_done"] >= 2  # mid-epoch 2, after a batch
    assert_all_npz_load(run_dir)
    assert temporary_files(tmp_path) == []

    client = client_for(store)
    [run] = runs_of(client)
    assert run.info.status == "KILLED"
    assert run.data.tags["error_type"] == "Interrupted"
    assert run.data.tags["resume_checkpoint"] == str(last)
    assert run.data.tags["stop_reason"] == "interrupted"

    if signum != signal.SIGINT:
        return  # pasting the printed command is checked once (Ctrl-C), the rest for both signals
    # The printed command, as a shell would split it (in the same directory: Hydra picks a new job dir).
    argv = shlex.split(resume)
    assert argv[:3] == ["python", "-m", "framework.train"]
    resumed = start_command(*argv[3:], cwd=tmp_path, sites=[testkit_site])
    done = finish(resumed)
    assert done.returncode == 0, done.stderr
    [job_dir] = [p.parent for p in (tmp_path / "outputs").rglob("weights.npz")]
    assert_same_result(job_dir, reference)

    [run] = runs_of(client)
    assert run.info.status == "FINISHED"
    assert "error_type" not in run.data.tags
    assert steps(client, run.info.run_id, "loss") == list(range(1, EPOCHS + 1))
