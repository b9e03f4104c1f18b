"""The command: ``python -m framework.train [overrides]`` (and ``-m`` for sweeps).

A thin Hydra wrapper around :func:`framework.run.train`. It returns the monitored
metric so sweepers (Optuna) can optimize it, and turns every error the framework
raises on purpose into one line on stderr, without a traceback.
"""

import os
import sys

import hydra
from omegaconf import DictConfig

from framework.config_paths import conf_dir
from framework.core.errors import FrameworkError
from framework.training.interrupts import Interrupted


def _job_threads(cfg: DictConfig) -> None:
    """In a parallel sweep, give each job its share of the cores for BLAS."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    if cfg.trainer.get("threads") is None and hydra_cfg.mode == RunMode.MULTIRUN:
        jobs = hydra_cfg.launcher.get("n_jobs")
        if isinstance(jobs, int) and jobs > 1:
            cfg.trainer.threads = max(1, (os.cpu_count() or 1) // jobs)


def _resume_command(checkpoint) -> str:
    from hydra.core.hydra_config import HydraConfig

    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("trainer.resume=")]
    return " ".join(["python -m framework.train", *overrides, f"trainer.resume={checkpoint}"])


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def main(cfg: DictConfig) -> float:
    from framework.run import train

    _job_threads(cfg)
    try:
        return train(cfg).value
    except (Interrupted, KeyboardInterrupt) as exc:
        checkpoint = getattr(exc, "checkpoint", None)
        how = (
            f"resume with: {_resume_command(checkpoint)}"
            if checkpoint
            else "no checkpoint was written (enable callbacks.checkpoint)"
        )
        name = exc.__class__.__name__ if isinstance(exc, KeyboardInterrupt) else str(exc)
        print(f"{name}; {how}", file=sys.stderr)
        sys.exit(exc.exit_code if isinstance(exc, Interrupted) else 130)
    except FrameworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
