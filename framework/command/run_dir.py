"""Every run writes into a directory of its own.

A run's directory holds ``run.json`` (its status: RUNNING with the process, then
FINISHED, FAILED with the error, or KILLED with the resume command); a sweep's holds
``sweep.json``. Before Hydra writes anything, :class:`ClaimRunDirectory` (a Hydra
callback, ``conf/config.yaml``) claims the directory by creating that file
exclusively. If another run already holds it (two runs started in the same second,
or a rerun into a finished run's directory), this run moves aside to ``<dir>-2``,
``<dir>-3``, ... and says so. The only way to continue in a held directory is to
resume from a checkpoint inside it, once its run has stopped."""

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from framework.command.outcome import RunStopped
from framework.core.npz import atomic_write

RUN_FILE, SWEEP_FILE = "run.json", "sweep.json"
#: Files that show a directory holds a run or sweep written before run.json existed.
LEGACY_MARKERS = (".hydra", "multirun.yaml")

#: The sweep directory this process claimed, for the summary of failed jobs at its end.
claimed_sweep_dir: Path | None = None


def _process() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_status(directory: Path, status: str, file: str = RUN_FILE, **details) -> None:
    record = {"status": status, **_process(), **details}
    atomic_write(Path(directory) / file, lambda handle: handle.write(json.dumps(record, indent=1).encode()))


def read_status(directory: Path, file: str = RUN_FILE) -> dict:
    try:
        return json.loads((Path(directory) / file).read_text())
    except (OSError, ValueError):
        return {}


def _is_live(record: dict) -> bool:
    if record.get("status") != "RUNNING" or record.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(record["pid"]), 0)
    except (KeyError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _try_claim(directory: Path, file: str) -> bool:
    """Create ``directory/file`` exclusively: True when this process now holds the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    if any((directory / marker).exists() for marker in LEGACY_MARKERS) and not (directory / file).exists():
        return False
    try:
        descriptor = os.open(directory / file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"status": "RUNNING", **_process()}, handle)
    return True


def claim(directory: Path, file: str = RUN_FILE, resume: str | None = None) -> Path:
    """The directory this run writes to: ``directory`` if free, else the first free ``<dir>-N``."""
    directory = Path(directory)
    if resume is not None and _inside(resume, directory) and (directory / file).exists():
        if _is_live(read_status(directory, file)):
            print(
                f"error: hydra.run.dir={directory}: its run (process {read_status(directory, file).get('pid')}) is "
                "still running; wait for it to stop before resuming it in place, or resume into another directory",
                file=sys.stderr,
            )
            raise RunStopped(2)
        write_status(directory, "RUNNING", file)
        return directory
    candidate, number = directory, 1
    while not _try_claim(candidate, file):
        number += 1
        candidate = directory.with_name(f"{directory.name}-{number}")
    if candidate != directory:
        print(f"outputs: {directory} holds another run; this one writes to {candidate}", flush=True)
    return candidate


def _inside(path: str, directory: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        return Path(path).resolve().is_relative_to(directory.resolve())
    return False


def _override_value(path: Path) -> str:
    escaped = str(path).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


class ClaimRunDirectory(Callback):
    """Claims the run's (or the sweep's) directory before Hydra writes into it. A directory
    that cannot be created is left to Hydra, which then reports it in one line."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        resume = OmegaConf.select(config, "trainer.resume", default=None)
        requested = Path(str(config.hydra.run.dir))
        try:
            directory = claim(requested, RUN_FILE, resume)
        except OSError:
            return
        if directory != requested:
            with read_write(config.hydra.run), open_dict(config.hydra.run):
                config.hydra.run.dir = str(directory)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        global claimed_sweep_dir
        requested = Path(str(config.hydra.sweep.dir))
        try:
            directory = claimed_sweep_dir = claim(requested, SWEEP_FILE)
        except OSError:
            return
        if directory != requested:
            with read_write(config.hydra), open_dict(config.hydra):
                config.hydra.sweep.dir = str(directory)
                # Each job's config is composed again from the overrides: the new directory must be one.
                config.hydra.overrides.hydra.append(f"hydra.sweep.dir={_override_value(directory)}")

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if claimed_sweep_dir is not None:
            with contextlib.suppress(OSError):
                write_status(claimed_sweep_dir, "FINISHED", SWEEP_FILE)


def failed_jobs(sweep_dir: Path) -> list[dict]:
    """The ``run.json`` records of the sweep's jobs that failed, in job order."""
    records = [read_status(path.parent) for path in sorted(Path(sweep_dir).rglob(RUN_FILE))]
    failed = [record for record in records if record.get("status") == "FAILED"]
    return sorted(failed, key=lambda record: (record.get("job") is None, record.get("job") or 0))
