"""What a sweep prints: each job's launch line with the user's overrides only, the model's
layer table once, and, for a launcher whose jobs print elsewhere, where to follow them."""

import re

from tests.commands import run_command
from tests.tuning.studies import journal_study

QUICK = ["data=xor", "trainer.epochs=2", "callbacks.progress=null", "logger=none", "hydra.sweep.dir=sweep"]
TABLE_HEADER = re.compile(r"^#\s+layer\s+output shape\s+params$", re.MULTILINE)


def _launch_lines(stdout: str) -> list[str]:
    return [line.split(" : ", 1)[1] for line in stdout.splitlines() if re.search(r"\t#\d+ : ", line)]


def test_a_studys_launch_lines_show_the_users_overrides_and_each_trial_still_reports(tmp_path):
    result = run_command(
        "-m", "hydra/sweeper=optuna_study", "hydra/sweeper/sampler=grid", "optimizer.lr=choice(0.01,0.02)", *QUICK,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = _launch_lines(result.stdout)
    assert sorted(lines) == [f"optimizer.lr={lr} {' '.join(QUICK[:-1])}" for lr in ("0.01", "0.02")]
    study = journal_study(tmp_path / "sweep" / "optuna.journal")
    assert [sorted(trial.intermediate_values) for trial in study.trials] == [[1, 2], [1, 2]]


def test_a_sweep_prints_the_layer_table_once_and_keeps_it_in_every_jobs_log(tmp_path):
    result = run_command("-m", "seed=0,1,2", *QUICK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(TABLE_HEADER.findall(result.stdout)) == 1
    counts = [line for line in result.stdout.splitlines() if line.startswith("model: ")]
    assert (
        counts
        == ["model: 2,338 parameters (float32), input shape (None, 2); its layers are in this job's train.log"] * 2
    )
    for job in "012":
        assert len(TABLE_HEADER.findall((tmp_path / "sweep" / job / "train.log").read_text())) == 1


def test_a_submitit_sweep_says_where_to_follow_its_jobs_and_when_they_ended(tmp_path):
    result = run_command("-m", "hydra/launcher=submitit_local", "seed=0,1", *QUICK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    sweep = tmp_path / "sweep"
    assert lines[0] == (
        "jobs: hydra/launcher=submitit_local runs each job in a process of its own and shows none of its lines "
        f"here; follow each job's train.log under {sweep} (this waits until every job has ended)"
    )
    assert _launch_lines(result.stdout) == [f"seed={seed} {' '.join(QUICK[:-1])}" for seed in (0, 1)]
    assert lines[-1] == f"jobs: 2 of 2 finished; outputs in {sweep}"
    assert all((sweep / job / "train.log").is_file() for job in "01")
