"""Case 2: SIGINT (Ctrl-C) and SIGTERM stop the real command after the current batch:
a checkpoint is written, the MLflow run is marked KILLED, the exit status is non-zero
(128 + the signal), and stderr holds one line with the command that resumes it. That
command, pasted as printed, continues in the stopped run's directory and finishes the
same MLflow run bit-identical to a run that was never interrupted."""

import json
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
    assert resume.endswith(f"hydra.run.dir={run_dir} trainer.resume={last}")
    killed = json.loads((run_dir / "run.json").read_text())
    assert killed["status"] == "KILLED" and killed["error"] == lines[0]

    manifest = read_checkpoint(last).manifest
    assert manifest["completed_epochs"] == 1 and manifest["batches_done"] >= 2  # mid-epoch 2, after a batch
    assert_all_npz_load(run_dir)
    assert temporary_files(tmp_path) == []

    client = client_for(store)
    [run] = runs_of(client)
    assert run.info.status == "KILLED"
    assert f"mlflow: run {run.info.run_id} (KILLED)" in result.stdout  # its id: to resume it from the store
    assert run.data.tags["error_type"] == "Interrupted"
    assert run.data.tags["resume_checkpoint"] == str(last)
    assert run.data.tags["stop_reason"] == "interrupted"

    # The printed command, as a shell would split it: the run continues in its own directory.
    argv = shlex.split(resume)
    assert argv[:3] == ["python", "-m", "framework.train"]
    resumed = start_command(*argv[3:], cwd=tmp_path, sites=[testkit_site])
    done = finish(resumed)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "run-2").exists()  # no directory of its own
    assert_same_result(run_dir, reference)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "FINISHED" and record["previous"] == [killed]

    [run] = runs_of(client)
    assert run.info.status == "FINISHED"
    assert "error_type" not in run.data.tags
    assert steps(client, run.info.run_id, "loss") == list(range(1, EPOCHS + 1))


def test_ctrl_c_to_a_sweep_ends_its_record_killed_with_the_jobs_resume_line(tmp_path, testkit_site):
    marks = tmp_path / "marks"
    marks.mkdir()
    sweep_dir = tmp_path / "sweep"
    process = start_command(
        "-m",
        *TINY,
        "seed=1,2",
        f"+callbacks.marker={{directory: '{marks}', epoch: 2, batch: 1, sleep: 0.01}}",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
        sites=[testkit_site],
    )
    wait_for(marks / "marker", process)
    process.send_signal(signal.SIGINT)
    result = finish(process)

    assert result.returncode == 130, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("training interrupted by SIGINT; resume with: python -m framework.train ")
    assert json.loads((sweep_dir / "0" / "run.json").read_text())["status"] == "KILLED"
    assert not (sweep_dir / "1").exists()  # the sweep stopped with its job
    sweep = json.loads((sweep_dir / "sweep.json").read_text())
    assert sweep["status"] == "KILLED" and sweep["exit_code"] == 130  # not RUNNING for ever


def test_sigterm_to_a_parallel_sweep_stops_each_job_as_a_single_run(tmp_path, testkit_site):
    marks = tmp_path / "marks"
    for job in ("0", "1"):
        (marks / job).mkdir(parents=True)
    sweep_dir = tmp_path / "sweep"
    process = start_command(
        "-m",
        *TINY,
        "seed=1,2,3",  # two jobs at once; the third must not begin
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"+callbacks.marker={{directory: '{marks}/${{hydra:job.num}}', epoch: 2, batch: 1, sleep: 0.01}}",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
        sites=[testkit_site],
    )
    for job in ("0", "1"):
        wait_for(marks / job / "marker", process)
    process.send_signal(signal.SIGTERM)
    result = finish(process)

    assert result.returncode == 143, result.stderr
    lines = sorted(line for line in result.stderr.splitlines() if line.strip())
    assert len(lines) == 2, result.stderr  # one resume line per job, nothing else
    for job, line in zip(("0", "1"), lines, strict=True):
        last = sweep_dir / job / "checkpoints" / "last.npz"
        assert line.startswith("training interrupted by SIGTERM; resume with: python -m framework.train ")
        assert line.endswith(f"hydra.run.dir={sweep_dir / job} trainer.resume={last}")
        assert read_checkpoint(last).manifest["completed_epochs"] < EPOCHS  # written at the interruption
        assert json.loads((sweep_dir / job / "run.json").read_text())["status"] == "KILLED"
    assert not (sweep_dir / "2" / "run.json").exists()
    assert json.loads((sweep_dir / "sweep.json").read_text())["status"] == "KILLED"


def test_a_stopped_rerun_prints_the_rerun_command_that_continues_it(tmp_path, store, testkit_site, reference):
    """A re-run composes its source's logged config, not conf/: the command that resumes it must
    re-run the same source (``python -m framework.train ... trainer.resume=`` would compose another)."""
    import subprocess
    import sys

    from tests.reliability.conftest import command, environment

    source = command(
        *TINY, *TRACKED, f"logger.tracking_uri={store}", f"hydra.run.dir={tmp_path / 'source'}", cwd=tmp_path
    )
    assert source.returncode == 0, source.stderr
    client = client_for(store)
    [original] = runs_of(client)
    marks, run_dir = tmp_path / "marks", tmp_path / "rerun"
    marks.mkdir()
    rerun = [sys.executable, "-m", "framework.tracking", "rerun", original.info.run_id, "--tracking-uri", store]
    marker = f"+callbacks.marker={{directory: '{marks}', epoch: 2, batch: 1, sleep: 0.01}}"
    process = subprocess.Popen(
        [*rerun, marker, f"hydra.run.dir={run_dir}"], cwd=tmp_path, env=environment([testkit_site]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for(marks / "marker", process)
    process.send_signal(signal.SIGTERM)
    stopped = finish(process)
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
    [line] = [line for line in stopped.stderr.splitlines() if "resume with: " in line]
    resume = shlex.split(line.partition("; resume with: ")[2])
    assert resume[:7] == ["python", "-m", "framework.tracking", "rerun", original.info.run_id, "--tracking-uri", store]

    resumed = subprocess.run(
        [sys.executable, *resume[1:]], cwd=tmp_path, env=environment([testkit_site]), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert_same_result(run_dir, reference)
    [again] = [run for run in runs_of(client) if run.info.run_id != original.info.run_id]
    assert again.info.status == "FINISHED" and again.data.tags["rerun_of"] == original.info.run_id
    assert again.data.tags["resume_count"] == "1" and steps(client, again.info.run_id, "loss") == list(
        range(1, EPOCHS + 1)
    )
