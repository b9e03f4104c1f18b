"""A sweep's jobs end with it. The launching process records its PID in the
environment its jobs inherit; a job running in another process (a joblib worker, for
instance) watches that PID, and when the sweep process is gone (``kill -9``) it stops
itself as Ctrl-C would: the batch finishes, a checkpoint is written, the run ends
KILLED; then the worker process exits instead of waiting, idle, for jobs that will
never come."""

import contextlib
import os
import signal
import threading

SWEEP_PID_ENV = "FRAMEWORK_SWEEP_PID"
POLL_SECONDS = 1.0
#: How long a stopped job may take to write its checkpoint and records before its process exits.
WIND_DOWN_SECONDS = 60.0


def mark_sweep_process() -> None:
    """In the launching process, before any job starts."""
    os.environ[SWEEP_PID_ENV] = str(os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch_sweep_process() -> threading.Event | None:
    """In a job: if it runs apart from its sweep's process, stop it (SIGTERM to itself) once
    that process has gone. Returns an event that ends the watch, or None when there is none."""
    try:
        sweep_pid = int(os.environ.get(SWEEP_PID_ENV, ""))
    except ValueError:
        return None
    if sweep_pid == os.getpid():
        return None  # the job runs in the sweep's own process
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
