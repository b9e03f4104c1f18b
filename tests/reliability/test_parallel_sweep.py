"""Case 4: eight sweep jobs in parallel processes (joblib, ``n_jobs=8``) tracking into one
local SQLite store: the parent and all eight child runs are there, each child with every
param of its job's config and every metric of every epoch (equal to the history its job
wrote), nothing left in a spool."""

import os
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from framework.command.paths import conf_dir
from framework.tracking.params import config_params

from .conftest import EPOCHS, TINY, TRACKED, client_for, command, metric_history, runs_of

pytestmark = pytest.mark.slow

JOBS = 8


def _expected_params(overrides: list[str], job_dir: Path) -> dict[str, str]:
    """The params of a job: its config composed as the command composes it, resolved."""
    with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
        cfg = compose("config", overrides=[*overrides, f"output_dir={job_dir}"])
    cfg.trainer.threads = max(1, (os.cpu_count() or 1) // JOBS)  # what a parallel job sets for itself
    per_job_paths = ("output_dir", "logger.output_dir", "callbacks.checkpoint.directory")  # tags, not params
    return config_params(OmegaConf.to_container(cfg, resolve=True), leave_out=per_job_paths)


@pytest.mark.long  # with the long checks: eight processes at once, about 20 s
def test_eight_parallel_jobs_against_one_store_lose_nothing(tmp_path, store):
    sweep_dir = tmp_path / "sweep"
    shared = [*TINY, *TRACKED, f"logger.tracking_uri={store}"]
    result = command(
        "-m",
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={JOBS}",
        f"seed={','.join(str(seed) for seed in range(JOBS))}",
        *shared,
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "could not be sent" not in result.stderr and "cannot reach" not in result.stderr

    client = client_for(store)
    runs = runs_of(client)
    [parent] = [run for run in runs if run.data.tags.get("sweep") == "parent"]
    children = [run for run in runs if run is not parent]
    assert len(children) == JOBS
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["sweep/children"] == JOBS == parent.data.metrics["sweep/children_finished"]
    assert sorted(int(child.data.params["seed"]) for child in children) == list(range(JOBS))

    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        job_dir = Path(child.data.tags["output_dir"])
        seed = int(child.data.params["seed"])
        assert child.data.params == _expected_params([*shared, f"seed={seed}"], job_dir)  # every param
        history = np.load(job_dir / "history.npz")
        for key in history.files:
            if key == "epoch":
                continue
            assert metric_history(client, child.info.run_id, key) == [
                (epoch, float(value)) for epoch, value in zip(range(1, EPOCHS + 1), history[key])
            ], (seed, key)
        assert not (job_dir / "mlflow").exists()  # nothing kept in a spool
