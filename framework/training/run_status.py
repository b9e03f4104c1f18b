"""A run directory's status record, ``run.json``: RUNNING with its process, then FINISHED,
FAILED with the error, or KILLED with the command that resumes it. The command writes it
(``framework/command/run_dir.py``); ``python -m framework.tracking repair`` ends KILLED the
record of a run whose process died. Written atomically, like every file of a run.

Resuming from the ``last.npz`` inside a stopped run's directory, with that directory as
``hydra.run.dir``, continues the run there: :func:`resume_command` prints it so."""

import contextlib
import json
import os
import shlex
import socket
import time
from pathlib import Path

from framework.core.npz import atomic_write

RUN_FILE, SWEEP_FILE = "run.json", "sweep.json"
#: The checkpoint a run resumes from to continue in its own directory.
LAST = "last.npz"


def process_record() -> dict:
    """The process writing a record, and when."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_status(directory: Path, status: str, file: str = RUN_FILE, **details) -> None:
    """Record ``status`` in ``directory/file``, keeping the records of the runs it continues."""
    previous = read_status(directory, file).get("previous")
    record = {"status": status, **process_record(), **details, **({"previous": previous} if previous else {})}
    atomic_write(Path(directory) / file, lambda handle: handle.write(json.dumps(record, indent=1).encode()))


def read_status(directory: Path, file: str = RUN_FILE) -> dict:
    try:
        return json.loads((Path(directory) / file).read_text())
    except (OSError, ValueError):
        return {}


def continues_in(directory: Path, checkpoint) -> bool:
    """Whether resuming from ``checkpoint`` continues the run of ``directory`` there: its ``last.npz``, inside it."""
    try:
        return Path(checkpoint).name == LAST and Path(checkpoint).resolve().is_relative_to(Path(directory).resolve())
    except (OSError, ValueError):
        return False


#: The command a run is started with, unless it was a re-run (``python -m framework.tracking rerun <id>``).
TRAIN_COMMAND = ("python", "-m", "framework.train")


def resume_command(overrides, checkpoint, directory: Path | str | None = None, command=TRAIN_COMMAND) -> str:
    """The command that continues a stopped run from ``checkpoint``, quoted for a POSIX shell: the run's
    ``command`` and ``overrides`` with ``trainer.resume`` and, when it continues in the run's ``directory``,
    ``hydra.run.dir``."""
    replaced = ("trainer.resume", "hydra.run.dir")
    kept = [o for o in overrides if o.lstrip("+~").partition("=")[0] not in replaced]
    here = [f"hydra.run.dir={directory}"] if directory is not None and continues_in(directory, checkpoint) else []
    return shlex.join([*command, *kept, *here, f"trainer.resume={checkpoint}"])


def may_be_live(record: dict) -> bool:
    """Whether the run that wrote ``record`` may still be running (on another host: it may)."""
    return record.get("status") == "RUNNING" and process_alive(record.get("host"), record.get("pid")) is not False


def process_alive(host, pid) -> bool | None:
    """Whether the process ``pid`` of ``host`` is alive: None when ``host`` is another machine (it
    cannot be told) or the process is this one; False when ``pid`` is not a process id."""
    if host != socket.gethostname():
        return None
    try:
        pid = int(pid)
        if pid == os.getpid():
            return None
        os.kill(pid, 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def job_records(sweep_dir: Path) -> list[dict]:
    """The ``run.json`` records of a sweep's jobs, in job order. A job whose process died
    while RUNNING (a killed worker) is recorded as KILLED first."""
    records = []
    for path in sorted(Path(sweep_dir).rglob(RUN_FILE)):
        record = read_status(path.parent)
        if record.get("status") == "RUNNING" and not may_be_live(record):
            record = {**record, "status": "KILLED", "error": "its process ended before the job did"}
            with contextlib.suppress(OSError):
                write_status(path.parent, "KILLED", **{k: v for k, v in record.items() if k not in _OWN_KEYS})
        records.append(record)
    return sorted(records, key=lambda record: (record.get("job") is None, record.get("job") or 0))


_OWN_KEYS = ("status", "pid", "host", "time", "previous")
