"""Every run has its own directory: runs started together, or a rerun into a finished
run's directory, never share one; only resuming continues a run in its own."""

import hashlib
import json
import os

from tests.commands import run_command, start_command

QUICK = ["trainer.epochs=1", "trainer.batch_size=256", "callbacks.progress=null", "logger=none"]


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_runs_started_together_write_two_directories(tmp_path):
    processes = [start_command(*QUICK, f"seed={seed}", "hydra.run.dir=run", cwd=tmp_path) for seed in (0, 1)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    directories = [tmp_path / "run", tmp_path / "run-2"]
    seeds = set()
    for directory in directories:
        assert json.loads((directory / "run.json").read_text())["status"] == "FINISHED"
        assert (directory / "weights.npz").exists()
        seeds.add((directory / ".hydra" / "overrides.yaml").read_text())
    assert len(seeds) == 2  # each directory holds one run's own files
    assert sum("holds another run; this one writes to" in out for out, _ in outputs) == 1


def test_a_rerun_never_overwrites_a_finished_runs_files(tmp_path):
    assert run_command(*QUICK, "hydra.run.dir=run", cwd=tmp_path).returncode == 0
    weights = _digest(tmp_path / "run" / "weights.npz")
    second = run_command(*QUICK, "seed=5", "hydra.run.dir=run", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"outputs: {tmp_path / 'run'} holds another run; this one writes to {tmp_path / 'run-2'}" in second.stdout
    assert _digest(tmp_path / "run" / "weights.npz") == weights
    assert "seed=5" not in (tmp_path / "run" / ".hydra" / "overrides.yaml").read_text()
    assert "seed=5" in (tmp_path / "run-2" / ".hydra" / "overrides.yaml").read_text()


def test_resuming_continues_a_run_in_its_own_directory(tmp_path):
    assert run_command(*QUICK, "hydra.run.dir=run", cwd=tmp_path).returncode == 0
    resumed = run_command(
        *QUICK, "trainer.epochs=2", "trainer.resume=run/checkpoints/last.npz", "hydra.run.dir=run", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    assert not (tmp_path / "run-2").exists()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "FINISHED"


def test_a_sweep_into_a_held_directory_moves_aside(tmp_path):
    assert run_command("-m", *QUICK, "seed=0", "hydra.sweep.dir=sweep", cwd=tmp_path).returncode == 0
    again = run_command("-m", *QUICK, "seed=1,2", "hydra.sweep.dir=sweep", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == ["0", "multirun.yaml", "sweep.json"]
    assert sorted(p.name for p in (tmp_path / "sweep-2").iterdir()) == ["0", "1", "multirun.yaml", "sweep.json"]
    assert "seed=2" in (tmp_path / "sweep-2" / "1" / ".hydra" / "overrides.yaml").read_text()


def test_resuming_in_place_waits_for_a_live_run(tmp_path):
    assert run_command(*QUICK, "hydra.run.dir=run", cwd=tmp_path).returncode == 0
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    alive = {**record, "status": "RUNNING", "pid": os.getpid()}  # this test's process stands in for a live run
    (tmp_path / "run" / "run.json").write_text(json.dumps(alive))
    resumed = run_command(
        *QUICK, "trainer.epochs=2", "trainer.resume=run/checkpoints/last.npz", "hydra.run.dir=run", cwd=tmp_path
    )
    assert resumed.returncode == 2
    assert resumed.stderr.strip() == (
        f"error: hydra.run.dir={tmp_path / 'run'}: its run (process {os.getpid()} on {alive['host']}) may still be "
        "running; once it has stopped, resume again, or resume into a new directory (leave out hydra.run.dir)"
    )
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == alive


def test_a_failed_resume_in_place_keeps_the_finished_runs_record(tmp_path):
    assert run_command(*QUICK, "hydra.run.dir=run", cwd=tmp_path).returncode == 0
    finished = json.loads((tmp_path / "run" / "run.json").read_text())
    overrides = (tmp_path / "run" / ".hydra" / "overrides.yaml").read_text()
    failed = run_command(  # a model the checkpoint does not fit: refused
        *QUICK, "trainer.epochs=1", "model.hidden=[8]", "trainer.resume=run/checkpoints/last.npz",
        "hydra.run.dir=run", cwd=tmp_path,
    )  # fmt: skip
    assert failed.returncode == 2
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "FAILED" and record["previous"] == [finished]
    assert (tmp_path / "run" / ".hydra.1" / "overrides.yaml").read_text() == overrides


def test_the_launch_directory_itself_is_never_reused(tmp_path):
    """``hydra.run.dir=.`` twice: the second run moves aside to a sibling directory."""
    launch = tmp_path / "here"
    launch.mkdir()
    assert run_command(*QUICK, "hydra.run.dir=.", cwd=launch).returncode == 0
    second = run_command(*QUICK, "hydra.run.dir=.", cwd=launch)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "here-2" / "weights.npz").exists()
