"""A sweep's jobs end with it. The launching process records its PID in the
environment its jobs inherit; a job running in a process the sweep started (a joblib
worker, a ``submitit_local`` job) watches that PID, and when the sweep process is gone
(``kill -9``) it stops itself as Ctrl-C would: the batch finishes, a checkpoint is
written, the run ends KILLED; then the worker process exits instead of waiting, idle,
for jobs that will never come. A job a scheduler started (SLURM) is not watched: the
PID may name nothing, or another process, on its node; ``scancel`` stops it."""

import contextlib
import os
import signal
import threading
from pathlib import Path

SWEEP_PID_ENV = "FRAMEWORK_SWEEP_PID"
POLL_SECONDS = 1.0
#: How long a stopped job may take to write its checkpoint and records before its process exits.
WIND_DOWN_SECONDS = 60.0


def mark_sweep_process() -> None:
    """In the launching process, before any job starts."""
    os.environ[SWEEP_PID_ENV] = str(os.getpid())


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone, or not Linux
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # after the (command name): state, parent


def is_descendant(pid: int, ancestor: int) -> bool:
    """Whether ``ancestor`` started ``pid``, directly or through others (a pool, a launcher's
    controller process)."""
    seen = set()
    while pid is not None and pid > 1 and pid not in seen:
        seen.add(pid)
        pid = _parent_of(pid)
        if pid == ancestor:
            return True
    return False


def _descends_from(ancestor: int) -> bool:
    """Whether ``ancestor`` started this process; without /proc, only the direct parent is known."""
    return os.getppid() == ancestor or is_descendant(os.getppid(), ancestor)


def runs_apart_from_sweep() -> bool:
    """Whether this job runs in a process of its own, not the sweep's: an interruption then
    stops this job alone, and the sweep goes on with the others."""
    sweep_pid = os.environ.get(SWEEP_PID_ENV)
    return sweep_pid is not None and sweep_pid != str(os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch_sweep_process() -> threading.Event | None:
    """In a job: if the sweep's process started it in another process, stop it (SIGTERM to
    itself) once that process has gone. Returns an event that ends the watch, or None when
    there is none."""
    try:
        sweep_pid = int(os.environ.get(SWEEP_PID_ENV, ""))
    except ValueError:
        return None
    if sweep_pid == os.getpid() or not _descends_from(sweep_pid):
        return None  # the job runs in the sweep's own process, or a scheduler started it
    done = threading.Event()

    def watch():
        while not done.wait(POLL_SECONDS):
            if not _alive(sweep_pid) or os.getppid() == 1:
                with contextlib.suppress(OSError):
                    os.kill(os.getpid(), signal.SIGTERM)
                done.wait(WIND_DOWN_SECONDS)
                os._exit(128 + signal.SIGTERM)  # nobody is left to hand this process another job

    threading.Thread(target=watch, name="framework-sweep-watchdog", daemon=True).start()
    return done
