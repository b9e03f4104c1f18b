"""How a tracked run and a sweep's parent run are named and tagged: one rule for both.

A run is named after the overrides that set it apart: in a sweep, the swept ones
(``lr=0.01,model.hidden=[64]``), else every override that is not about logging or
Hydra. A sweep's parent is ``sweep`` and the same overrides as typed. Both carry the
tags that say where they came from: the framework's version, the command, the user,
the process (for ``repair``) and the git commit of the launch directory."""

import getpass
import json
import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from framework.tracking.params import MAX_TAG_VALUE_LENGTH, clean_key, format_value, truncate
from framework.training.secrets import Redactor

#: Set by the sweep's Hydra callback for the jobs of a multirun: JSON with the parent run and the swept keys.
PARENT_ENV = "FRAMEWORK_MLFLOW_PARENT"
#: Set by ``python -m framework.tracking rerun`` for the run it starts: the id of the run re-run.
RERUN_ENV = "FRAMEWORK_RERUN_OF"
#: The process that tracks a run: ``python -m framework.tracking repair`` ends a run whose process is gone.
HOST_TAG, PID_TAG = "framework.host", "framework.pid"
#: Appended to the name of a trial a tuner pruned: MLflow has no status for it.
PRUNED_SUFFIX = " (pruned)"
#: MLflow refuses longer run names.
LONGEST_RUN_NAME = 250
#: Overrides that change how a run is tracked or launched, not what it computes.
NOT_NAMING = ("logger", "hydra")


def override_key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def run_name(overrides: Iterable[str], swept=(), values: Mapping | None = None, redactor=None) -> str | None:
    """The overrides that set a run apart, joined by commas: those of the ``swept`` keys when there
    are any, else all but logging and Hydra ones. With the run's flattened config ``values``, each
    is written as its param shows it (``model.hidden=[64]``, floats to 4 significant digits)."""
    redactor = redactor or Redactor()
    swept = set(swept)
    chosen = [
        o for o in overrides if (override_key(o) in swept if swept else not override_key(o).startswith(NOT_NAMING))
    ]
    name = ",".join(redactor.override(_as_named(o, values or {})) for o in chosen)
    return name[:LONGEST_RUN_NAME] or None


def _as_named(override: str, values: Mapping) -> str:
    key = override_key(override)
    if key not in values:
        return override
    value = values[key]
    text = f"{value:.4g}" if isinstance(value, float) else format_value(value)
    return f"{key}={text}"


def source_tags(redactor: Redactor, launch_dir, overrides: Iterable[str] = ()) -> dict[str, str]:
    """Where a run came from: the framework's version, the command and its overrides, the user,
    the tracking process, the git commit of ``launch_dir``."""
    import framework

    overrides = list(overrides)
    rerun_of = os.environ.get(RERUN_ENV)
    rerun = ["python", "-m", "framework.tracking", "rerun", rerun_of] if rerun_of else None
    command = shlex.join([*rerun, *map(redactor.override, overrides)]) if rerun else command_line()
    source = "framework.tracking" if rerun_of else "framework.train" if "framework.train" in command else None
    tags = {
        "framework_version": framework.__version__,
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": source or (sys.argv[:1] or [""])[0],
        "mlflow.user": user_name(),
        "command": redactor.text(command),
    }
    if rerun_of:
        tags["rerun_of"] = rerun_of
    if overrides:
        tags["overrides"] = " ".join(shlex.quote(redactor.override(o)) for o in overrides)
    commit = git_commit(launch_dir or Path.cwd())
    if commit:
        tags["mlflow.source.git.commit"] = tags["git_commit"] = commit
    return tags


def job_tags(output_paths: Mapping) -> dict[str, str]:
    """The process that tracks the run now (``repair`` and a resume check it) and the directories it
    writes: set when the run starts, and again when a resume continues it elsewhere."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())} | {k: str(v) for k, v in output_paths.items()}


def plugins_tag(plugins: Mapping[str, tuple[str, str | None]]) -> str:
    """The tag ``plugins``: every plugin by name with its distribution and version, as JSON."""
    return json.dumps({name: f"{dist} {version or ''}".strip() for name, (dist, version) in plugins.items()})


def fitted(tags: Mapping) -> dict[str, str]:
    """``tags`` as MLflow takes them: clean keys, values within its length limit."""
    return {clean_key(k): truncate(str(v), MAX_TAG_VALUE_LENGTH) for k, v in tags.items()}


def git_commit(directory) -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def command_line() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(os.path.join("framework", "train.py")):
        return shlex.join(["python", "-m", "framework.train", *argv[1:]])
    return shlex.join(argv) if argv else ""


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
