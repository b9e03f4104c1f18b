"""SIGTERM to a sweep's launching process (``kill``, a scheduler ending the sweep) stops
its jobs as it would stop a single run. Each job running in a process the sweep started
(a joblib worker, a ``submitit_local`` job) gets the signal in turn: it finishes its
batch, writes a checkpoint, ends its ``run.json`` KILLED and prints its resume line.
Once they have (or after ``WIND_DOWN_SECONDS``), the sweep process exits with 128 + the
signal; ``sweep.json`` says KILLED from the first moment, so a job that had not begun
does not begin. A second SIGTERM exits at once."""

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

from framework.command.watchdog import is_descendant
from framework.training.run_status import SWEEP_FILE, job_records, read_status, write_status

WIND_DOWN_SECONDS = 60.0
POLL_SECONDS = 0.1


def stop_jobs_on_sigterm(sweep_dir: Path) -> None:
    """In the launching process, once ``sweep_dir`` is claimed; a handler the user (or a
    library) installed is left in place."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
        return

    def on_sigterm(signum, frame):
        signal.signal(signum, _exit_at_once)
        with contextlib.suppress(OSError):
            write_status(sweep_dir, "KILLED", SWEEP_FILE, exit_code=128 + signum)
        _wind_down(sweep_dir, signum)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)


def sweep_stopped() -> bool:
    """In a job of a sweep: whether the sweep was stopped, so that a job not yet begun must not begin."""
    from hydra.core.hydra_config import HydraConfig

    return read_status(Path(HydraConfig.get().sweep.dir), SWEEP_FILE).get("status") == "KILLED"


def _exit_at_once(signum, frame):
    raise SystemExit(128 + signum)


def _wind_down(sweep_dir: Path, signum: int) -> None:
    """Pass ``signum`` on to the running jobs of processes this one started, and wait until
    every job has ended (a job that starts meanwhile gets it too)."""
    told, deadline = set(), time.monotonic() + WIND_DOWN_SECONDS
    while time.monotonic() < deadline:
        running = [_pid(record) for record in job_records(sweep_dir) if record.get("status") == "RUNNING"]
        ours = {pid for pid in running if pid is not None and is_descendant(pid, os.getpid())}
        if not ours:
            return
        for pid in ours - told:
            with contextlib.suppress(OSError):
                os.kill(pid, signum)
        told |= ours
        time.sleep(POLL_SECONDS)


def _pid(record: dict) -> int | None:
    try:
        return int(record["pid"])
    except (KeyError, TypeError, ValueError):
        return None
