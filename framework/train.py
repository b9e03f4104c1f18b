"""The command: ``python -m framework.train [overrides]`` (and ``-m`` for sweeps).

A thin Hydra wrapper around :func:`framework.run.train`. It returns the monitored
metric so sweepers (Optuna) can optimize it, and turns every error the framework
raises on purpose into one line on stderr, without a traceback (exit status 2).
So are Hydra's own errors about the command line (an unknown config option or key,
a malformed override, a config file that does not parse): Hydra prints those over
several lines with its search path; here they are one line too, with the fix.
"""

import contextlib
import logging
import os
import re
import shlex
import sys

import hydra
from omegaconf import DictConfig

from framework.config_paths import conf_dir
from framework.console import lines_through_logging, say, to_log_file
from framework.core.errors import FrameworkError
from framework.training.interrupts import Interrupted

#: The exit status of a run stopped by an error the framework (or Hydra) explains in one line.
ERROR_EXIT = 2


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
    # Quoted for a POSIX shell, so the line can be pasted as it is ({...}, spaces, $).
    return shlex.join(["python", "-m", "framework.train", *overrides, f"trainer.resume={checkpoint}"])


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")
def _hydra_main(cfg: DictConfig) -> float:
    _job_threads(cfg)
    with lines_through_logging():
        return _job(cfg)


def _job(cfg: DictConfig) -> float:
    """The run, with the framework's errors and interruptions as one line each."""
    from framework.run import train

    try:
        return train(cfg, log=say).value
    except (Interrupted, KeyboardInterrupt) as exc:
        checkpoint = getattr(exc, "checkpoint", None)
        how = (
            f"resume with: {_resume_command(checkpoint)}"
            if checkpoint
            else "no checkpoint was written (enable callbacks.checkpoint)"
        )
        name = exc.__class__.__name__ if isinstance(exc, KeyboardInterrupt) else str(exc)
        _report(f"{name}; {how}")
        sys.exit(exc.exit_code if isinstance(exc, Interrupted) else 130)
    except FrameworkError as exc:
        _report(f"error: {one_line(str(exc))}")
        sys.exit(ERROR_EXIT)
    except OSError as exc:  # the machine, not the config: a disk, a permission, the network
        _report(f"error: {describe_os_error(exc)}")
        sys.exit(ERROR_EXIT)


def _report(line: str) -> None:
    """Why the job stopped: on standard error, and in the job's log file."""
    print(line, file=sys.stderr)
    with contextlib.suppress(OSError):  # a full or read-only disk must not hide the message
        to_log_file(line)


def main() -> None:
    """The command's entry point (``python -m framework.train``, ``framework-train``)."""
    # A line the job's log file cannot take (a full disk) is dropped without a traceback;
    # the run's own files report write errors in one line.
    logging.raiseExceptions = False
    with _one_line_hydra_errors():
        _hydra_main()


# -- Hydra's errors about the command line, in one line ----------------------------------


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def describe_os_error(error: OSError) -> str:
    """One line for an ``OSError`` the framework did not explain itself."""
    from framework.core.npz import is_file_system_error

    where = f"{error.filename}: " if error.filename else ""
    reason = f"{where}{error.strerror or one_line(str(error)) or 'failed'} ({type(error).__name__})"
    if is_file_system_error(error):
        return (
            f"{reason}; check that the path exists and is readable, that the output directory is writable "
            "and its disk has space, or choose another (hydra.run.dir=<dir>)"
        )
    return reason


def describe_hydra_error(error: BaseException) -> str:
    """One line for an error Hydra raises while reading the command line and the configs:
    what is wrong, and what to do."""
    from hydra.errors import MissingConfigException, OverrideParseException, SearchPathException

    if isinstance(error, FrameworkError):  # raised by the framework's Hydra plugins: already one clear message
        return one_line(str(error))
    text = str(error).split("Config search path:")[0]
    text = re.sub(r"^In '[^']*': ", "", text.strip())
    blocked = _blocked_note()
    if isinstance(error, MissingConfigException) and error.options is not None and error.missing_cfg_file:
        group, _, option = str(error.missing_cfg_file).rpartition("/")
        choices = ", ".join(error.options) or "none"
        return (
            f"{group}={option}: the config group {group!r} has no option {option!r}; choose one of: {choices}{blocked}"
        )
    if isinstance(error, MissingConfigException):
        return f"{one_line(text).rstrip('.')}; check the name (--config-name) and --config-dir"
    if isinstance(error, SearchPathException):
        return f"{one_line(text)}; give an existing directory to --config-dir"
    if isinstance(error, OverrideParseException):
        reason = error.message.splitlines()[0].strip() if error.message else "malformed"
        return (
            f"cannot parse the override {error.override!r}: {reason}; write key=value (close every bracket and "
            "quote, and quote the whole override for the shell: 'model.hidden=[64,32]'); "
            "https://hydra.cc/docs/advanced/override_grammar/basic/"
        )
    cause = error.__cause__
    match = re.match(r"Could not override '([^']+)'", text)
    if match and cause is not None and "not in struct" in str(cause):
        key = match.group(1)
        return (
            f"{key}: no such config key; to add a new key write +{key}=..., "
            f"or see the keys with: python -m framework.train --cfg job"
        )
    if _is_yaml_error(error):
        return f"a config file does not parse as YAML: {one_line(str(error))}; fix that file"
    from hydra.errors import CompactHydraException

    message = one_line(text) or type(error).__name__
    if cause is not None and str(cause) and str(cause) not in message:
        message += f": {one_line(str(cause))}"
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return (
            f"{where}{error.strerror or message} ({type(error).__name__}); Hydra cannot create or write the job's "
            "directory there: choose a writable one (hydra.run.dir=<dir>, with -m: hydra.sweep.dir=<dir>)"
        )
    if not isinstance(error, CompactHydraException):
        message = (
            f"{type(error).__name__} while reading the command line and configs: {message}; "
            "check the overrides (python -m framework.train --help), or set HYDRA_FULL_ERROR=1 for the traceback"
        )
    return message + blocked


def _is_yaml_error(error: BaseException) -> bool:
    try:
        import yaml
    except ImportError:  # pragma: no cover - a dependency of hydra
        return False
    return isinstance(error, yaml.YAMLError)


def _blocked_note() -> str:
    from framework.plugins.manager import blocked_note

    return blocked_note()


def _in_job(error: BaseException) -> bool:
    """Whether ``error`` was raised inside a job (Hydra's ``run_job``), not while Hydra read
    the command line and composed the config."""
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "run_job":
            return True
        tb = tb.tb_next
    return False


@contextlib.contextmanager
def _one_line_hydra_errors():
    """While the command runs, an error Hydra reports before the job starts (an unknown
    config option or key, a malformed override, a config file that is not YAML, a run
    directory it cannot create) becomes ``error: <one line>`` with exit status 2, instead
    of Hydra's multi-line message or a traceback. Errors inside the job are left to the
    job (which prints the framework's own errors in one line) and to Hydra.
    ``HYDRA_FULL_ERROR=1`` keeps Hydra's full output."""
    import hydra._internal.utils as hydra_utils

    original = getattr(hydra_utils, "run_and_report", None)
    if original is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
        yield  # another Hydra version, or the user wants everything: leave its output alone
        return

    def run_and_report(func):
        try:
            return func()
        except Exception as error:
            # The job prints its own errors; an OSError that reaches here is Hydra's, setting up
            # the job's directory (a read-only or full disk, a path under a file).
            if not _in_job(error) or isinstance(error, OSError):
                print(f"error: {describe_hydra_error(error)}", file=sys.stderr)
                sys.exit(ERROR_EXIT)

            failure = error

            def again():
                raise failure  # Hydra's own report: its traceback, without Hydra's frames

            return original(again)

    hydra_utils.run_and_report = run_and_report
    try:
        yield
    finally:
        hydra_utils.run_and_report = original


if __name__ == "__main__":
    main()
