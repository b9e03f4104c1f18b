"""A job's share of the cores for BLAS, from whatever launched it: an explicit
``trainer.threads``, SLURM's ``SLURM_CPUS_PER_TASK``, a launcher's ``cpus_per_task``
(submitit), the CPUs Ray gave the task, or the cores divided among joblib's
``n_jobs``. Without any of these (one job at a time), BLAS keeps its own default."""

import contextlib
import os
import sys
from collections.abc import Mapping


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _positive_int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 1 and not isinstance(value, bool) else None


def _ray_cpus() -> int | None:
    ray = sys.modules.get("ray")  # only when a Ray worker already imported it
    if ray is None or not ray.is_initialized():
        return None
    assigned = ray.get_runtime_context().get_assigned_resources().get("CPU")
    return max(1, int(assigned)) if assigned else None


def job_thread_share(launcher: Mapping, multirun: bool, environ: Mapping = os.environ, cpus: int | None = None):
    """The BLAS threads for one job, or None to leave BLAS alone. A SLURM task's CPUs are
    the budget that parallel jobs inside it (joblib) divide among themselves."""
    slurm = _positive_int(environ.get("SLURM_CPUS_PER_TASK"))
    if not multirun:
        return slurm
    for key in ("cpus_per_task", "cpus_per_worker"):
        share = _positive_int(launcher.get(key))
        if share is not None:
            return share
    ray = _ray_cpus()
    if ray is not None:
        return ray
    budget = slurm or cpus or usable_cpus()
    jobs = launcher.get("n_jobs")
    if isinstance(jobs, int) and not isinstance(jobs, bool) and jobs < 0:
        jobs = max(1, budget + 1 + jobs)  # joblib's convention: -1 is one job per core
    jobs = _positive_int(jobs)
    return max(1, budget // jobs) if jobs is not None and jobs > 1 else slurm


@contextlib.contextmanager
def blas_threads(threads: int | None, log):
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        log(f"threads: {threads} BLAS thread(s) for this job")
        yield
