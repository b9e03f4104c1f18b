"""The command as users meet it: the default run, Hydra's flags, presets, sweeps."""

import os

import numpy as np
import pytest
import yaml

from tests.commands import run_command

pytestmark = pytest.mark.slow


def test_default_run_trains_and_ends_with_a_summary(tmp_path):
    result = run_command(f"hydra.run.dir={tmp_path / 'run'}", "trainer.epochs=3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "result: " in result.stdout and "test_accuracy=" in result.stdout
    assert (tmp_path / "run" / "weights.npz").is_file()
    assert (tmp_path / "run" / "checkpoints" / "last.npz").is_file()
    assert (tmp_path / "run" / ".hydra" / "config.yaml").is_file()
    assert "mlflow ui --backend-store-uri sqlite:///" in result.stdout, "the summary says how to open the run"
    # the job directory, and the tracking store where `mlflow ui` looks: nothing else
    assert sorted(os.listdir(tmp_path)) == ["mlflow.db", "mlruns", "run"]
    # the console shows the lines as they are; the job's log keeps them, with a time
    assert "\nepoch 1/3 - loss " in result.stdout
    log = (tmp_path / "run" / "train.log").read_text()
    for line in ("epoch 1/3 - loss ", "epoch 3/3 - loss ", "result: ", "mlflow: view it with `mlflow ui"):
        assert f"[framework][INFO] - {line}" in log, f"train.log lacks {line!r}:\n{log}"


def test_a_failed_job_says_why_in_its_log_too(tmp_path):
    result = run_command(f"hydra.run.dir={tmp_path / 'run'}", "optimizer.lr=abc", "logger=none", cwd=tmp_path)
    assert result.returncode == 2
    line = "error: optimizer.lr='abc': lr must be a finite number, got 'abc'"
    assert result.stderr.strip() == line
    assert f"[framework][ERROR] - {line}" in (tmp_path / "run" / "train.log").read_text()


def test_help_lists_groups_options_and_experiments(tmp_path):
    result = run_command("--help", cwd=tmp_path)
    assert result.returncode == 0
    groups = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line and "," in line)
    assert {"adam", "adamw", "rmsprop", "sgd"} <= set(groups["optimizer"].split(", "))
    assert "digits" in groups["data"].split(", ")
    assert {"notebook_000", "notebook_003", "digits"} <= set(groups["experiment"].split(", "))
    assert {"digits_cnn", "mnist_cnn", "fashion_mnist_cnn"} <= set(groups["experiment"].split(", "))
    assert {"mlp", "cnn", "sequential"} <= set(groups["model"].split(", "))


def test_cfg_job_prints_the_composed_config(tmp_path):
    result = run_command("--cfg", "job", "optimizer=sgd", "optimizer.lr=0.5", cwd=tmp_path)
    assert result.returncode == 0
    assert "name: sgd" in result.stdout and "lr: 0.5" in result.stdout


def test_info_describes_the_search_path(tmp_path):
    result = run_command("--info", "searchpath", cwd=tmp_path)
    assert result.returncode == 0
    assert "framework-mount://experiment=" in result.stdout


def test_multirun_sweeps_over_overrides(tmp_path):
    result = run_command(
        "-m",
        "optimizer.lr=0.01,0.001",
        "trainer.epochs=1",
        "callbacks.progress=null",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "sweep")) == ["0", "1", "multirun.yaml", "sweep.json"]
    assert all((tmp_path / "sweep" / job / "weights.npz").is_file() for job in ("0", "1"))


@pytest.mark.long  # with the long checks: parallel jobs measuring their threads, about 11 s
def test_parallel_sweep_with_joblib_gives_each_job_its_share_of_cores(tmp_path):
    result = run_command(
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "seed=1,2",
        "trainer.epochs=1",
        "callbacks.progress=null",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for job in ("0", "1"):
        assert (tmp_path / "sweep" / job / "weights.npz").is_file()
    share = max(1, (os.cpu_count() or 1) // 2)
    assert result.stdout.count(f"threads: {share} BLAS thread") == 2


def test_a_study_optimizes_the_monitored_metric(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_command(
        "-m",
        "hydra/sweeper=optuna_study",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.direction=minimize",
        "optimizer.lr=tag(log, interval(0.0001, 0.1))",
        "trainer.epochs=1",
        "callbacks.progress=null",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())["best_value"]
    finals = [float(np.load(sweep / job / "history.npz")["val_loss"][-1]) for job in ("0", "1", "2")]
    assert best == pytest.approx(min(finals))
