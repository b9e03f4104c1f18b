"""The entry point: ``python -m framework.train [overrides]`` (``-m`` for sweeps).

Hydra composes the config and runs :func:`run_job` once per job. A job returns the
monitored value (for sweepers) or raises. In a sweep, an error raises
:class:`JobFailed` (already reported in one line, on standard error and in the
job's ``train.log``), so Hydra and any launcher see a failed job while the sweep's
other jobs go on; so does an interruption of a job in a process of its own (a SLURM
job's ``scancel``), recorded KILLED. A single run, and an interruption (Ctrl-C,
SIGTERM) of the sweep's own process, raise :class:`RunStopped`, which ends the command. Every error
Hydra raises about the command line or the configs becomes one line too. Exit
status: 0, 2 for an error explained in one line, 1 for a bug (with its traceback),
128+signal for an interruption."""

import contextlib
import logging
import os
import signal
import sys
import traceback
from dataclasses import replace
from pathlib import Path

import hydra
from omegaconf import DictConfig

from framework.command import run_dir
from framework.command.hydra_errors import describe_hydra_error, describe_os_error, one_line, overlong_key
from framework.command.outcome import JobFailed, RunStopped
from framework.command.paths import conf_dir
from framework.command.recipe import JobContext, train
from framework.command.redaction import hydra_files, job_redactor, redact_files, redact_logging
from framework.command.rerun_command import running_rerun_command
from framework.command.sweep_stop import sweep_stopped
from framework.command.watchdog import mark_sweep_process, runs_apart_from_sweep, watch_sweep_process
from framework.console import lines_through_logging, say, to_log_file
from framework.core.errors import FrameworkError
from framework.training.interrupts import Interrupted
from framework.training.run_status import TRAIN_COMMAND, resume_command

#: The exit status of a run stopped by an error the framework (or Hydra) explains in one line.
ERROR_EXIT = 2
BUG_EXIT = 1
#: The user set HYDRA_FULL_ERROR=1: a plugin's bug shows its traceback on the terminal too.
_user_wants_tracebacks = False


def run_job(cfg: DictConfig) -> float:
    redactor = job_redactor(cfg)
    redact_logging(redactor)
    redact_files(hydra_files(), redactor)
    context = JobContext.from_hydra()
    context = replace(context, overrides=tuple(redactor.override(o) for o in context.overrides))
    directory = context.output_dir
    if context.multirun and sweep_stopped():
        raise JobFailed("the sweep was stopped before this job began", 128 + signal.SIGTERM)
    _record(directory, "RUNNING", context)
    watch = watch_sweep_process() if context.multirun else None
    try:
        return _run_recorded(cfg, context)
    finally:
        if watch is not None:
            watch.set()


def _run_recorded(cfg: DictConfig, context: JobContext) -> float:
    directory = context.output_dir
    with lines_through_logging():
        try:
            value = train(cfg, log=say, context=context).value
        except (Interrupted, KeyboardInterrupt) as exc:
            line = _interruption_line(exc, context)
            _report(line)
            _record(directory, "KILLED", context, error=line)
            code = exc.exit_code if isinstance(exc, Interrupted) else 130
            if context.multirun and runs_apart_from_sweep():  # this job alone was stopped (scancel)
                raise JobFailed(line, code) from exc
            raise RunStopped(code) from exc
        except Exception as exc:
            line, code = _failure_line(exc)
            _report(line)
            _record(directory, "FAILED", context, error=line.removeprefix("error: "), exit_code=code)
            raise (JobFailed(line, code) if context.multirun else RunStopped(code)) from exc
    _record(directory, "FINISHED", context)
    return value


def _failure_line(error: Exception) -> tuple[str, int]:
    """The one line for an error, and the exit status; a bug's traceback is shown first."""
    culprit = _plugin_at_fault(error)
    if culprit is not None:
        return _plugin_bug_line(error, culprit), ERROR_EXIT
    if isinstance(error, FrameworkError):
        return f"error: {one_line(str(error))}", ERROR_EXIT
    if isinstance(error, OSError):  # the machine, not the config: a disk, a permission, the network
        return f"error: {describe_os_error(error)}", ERROR_EXIT
    _report("".join(traceback.format_exception(error)).rstrip())
    return f"error: a bug stopped the run ({type(error).__name__}: {one_line(str(error))}); the traceback is above", (
        BUG_EXIT
    )


def _plugin_at_fault(error: Exception) -> str | None:
    """The plugin component whose code raised a bug (not a ``FrameworkError``), also one a
    hook of the framework called (a plugin's schedule in the learning-rate callback)."""
    from framework.plugins import default_plugins

    bug = _the_bug(error)
    if bug is None or isinstance(bug, FrameworkError) or (bug is error and isinstance(error, OSError)):
        return None
    culprit = default_plugins().component_at_fault(bug)
    return None if culprit is None or culprit in str(error) else culprit


def _the_bug(error: Exception) -> BaseException | None:
    """The exception itself, or the one a lifecycle hook's ``PluginError`` wraps."""
    from framework.plugins import PluginError

    return error.__cause__ if isinstance(error, PluginError) else error


def _plugin_bug_line(error: Exception, culprit: str) -> str:
    """One line naming the plugin's component; its traceback in the job's log file, and on
    the terminal too when the user set HYDRA_FULL_ERROR=1."""
    bug = _the_bug(error)
    trace = "".join(traceback.format_exception(error)).rstrip()
    logs = []
    with contextlib.suppress(OSError):
        logs = to_log_file(trace)
    if _user_wants_tracebacks:
        print(trace, file=sys.stderr, flush=True)
    where = f"its traceback is in {logs[0]}; " if logs else ""
    return (
        f"error: {culprit} raised {type(bug).__name__}: {one_line(str(bug))}; a bug in that plugin, not in the "
        f"config: report it to its authors, or leave the component out ({where}HYDRA_FULL_ERROR=1 prints it here)"
    )


def _interruption_line(exc: BaseException, context: JobContext) -> str:
    checkpoint = getattr(exc, "checkpoint", None)
    if checkpoint:
        command = running_rerun_command() or TRAIN_COMMAND
        how = f"resume with: {resume_command(context.overrides, checkpoint, context.output_dir, command)}"
    else:
        how = "no checkpoint was written"
    # A hook that failed while the interruption was reported (a checkpoint that could not be
    # written) is said as it is, never reworded into advice that does not apply.
    failures = [one_line(note) for note in getattr(exc, "__notes__", ())]
    if not checkpoint and not failures:
        how += " (enable callbacks.checkpoint)"
    name = exc.__class__.__name__ if isinstance(exc, KeyboardInterrupt) else str(exc)
    return "; ".join([f"{name}", how, *failures])


def _report(line: str) -> None:
    """Why the job stopped: on standard error, and in the job's log file."""
    print(line, file=sys.stderr, flush=True)
    with contextlib.suppress(OSError):  # a full or read-only disk must not hide the message
        to_log_file(line)


def _record(directory: Path, status: str, context: JobContext, **details) -> None:
    with contextlib.suppress(OSError, FrameworkError):  # the run's own files report write errors
        run_dir.write_status(directory, status, job=context.job_number, overrides=list(context.overrides), **details)


# -- the command ---------------------------------------------------------------------


@contextlib.contextmanager
def _hydra_errors_raised():
    """Hydra prints its errors with a traceback and exits 1, unless HYDRA_FULL_ERROR=1 (its
    documented switch), when it raises them: then :func:`main` words them in one line."""
    global _user_wants_tracebacks
    previous = os.environ.get("HYDRA_FULL_ERROR")
    _user_wants_tracebacks = previous == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous


def main() -> None:
    """The command's entry point (``python -m framework.train``, ``framework-train``)."""
    # A line the job's log file cannot take (a full disk) is dropped without a traceback;
    # the run's own files report write errors in one line.
    logging.raiseExceptions = False
    try:
        os.getcwd()
    except FileNotFoundError:
        print(
            "error: the current directory was deleted (or moved away) while this shell was in it, and a run writes "
            "its outputs there; cd into a directory that exists and run the command again",
            file=sys.stderr,
        )
        sys.exit(ERROR_EXIT)
    overlong = overlong_key(sys.argv[1:])
    if overlong is not None:
        print(f"error: {overlong}", file=sys.stderr)
        sys.exit(ERROR_EXIT)
    status = _run_command(wants_traceback=os.environ.get("HYDRA_FULL_ERROR") == "1")
    if status:
        sys.exit(status)


def run_primary_config(config_dir: Path, config_name: str, overrides: list[str]) -> int:
    """One run composed from the primary config ``<config_dir>/<config_name>.yaml`` instead of
    ``conf/config.yaml`` (whose groups are still found), with ``overrides``; the exit status.
    Hydra reads its arguments from ``sys.argv``: they are set for the run and restored after."""
    logging.raiseExceptions = False
    saved = sys.argv
    sys.argv = [saved[0], "--config-dir", str(config_dir), "--config-name", config_name, *overrides]
    try:
        overlong = overlong_key(overrides)
        if overlong is not None:
            print(f"error: {overlong}", file=sys.stderr)
            return ERROR_EXIT
        return _run_command(wants_traceback=os.environ.get("HYDRA_FULL_ERROR") == "1")
    finally:
        sys.argv = saved


def _run_command(wants_traceback: bool) -> int:
    mark_sweep_process()  # jobs a launcher runs in other processes stop if this one is killed
    try:
        app = hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")(run_job)
        with _hydra_errors_raised():
            app()
    except RunStopped as stop:
        return _sweep_interrupted(stop.exit_code) if run_dir.claimed_sweep_dir else stop.exit_code
    except BrokenPipeError:  # the reader went away (`... --help | head`): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except JobFailed:
        return _end_sweep_with_failures()
    except KeyboardInterrupt:
        print("KeyboardInterrupt: the command was stopped", file=sys.stderr)
        return _sweep_interrupted(130) if run_dir.claimed_sweep_dir else 130
    except SystemExit as stop:
        return _sweep_exit(stop)
    except Exception as error:
        if wants_traceback:
            raise
        if run_dir.claimed_sweep_dir is None:
            print(f"error: {describe_hydra_error(error)}", file=sys.stderr)
            return ERROR_EXIT
        return _sweep_stopped(f"the sweep stopped: {_sweep_error(error)}")
    return _end_sweep_with_failures() if run_dir.claimed_sweep_dir else 0


def _sweep_exit(stop: SystemExit) -> int:
    """The sweep's process stopped by SIGTERM (framework/command/sweep_stop.py), or by a Hydra
    callback on an error it has said in one line; any other exit goes on."""
    directory = run_dir.claimed_sweep_dir
    if directory is not None and run_dir.read_status(directory, run_dir.SWEEP_FILE).get("status") == "KILLED":
        return _sweep_interrupted(stop.code)
    if directory is None or not isinstance(stop.__cause__, FrameworkError):
        raise stop
    return _sweep_stopped(f"the sweep stopped: {one_line(str(stop.__cause__))}", printed=True)


def _sweep_interrupted(exit_code: int) -> int:
    """A sweep a signal stopped (its job said so, with the resume command): ``sweep.json`` KILLED."""
    with contextlib.suppress(OSError, FrameworkError):
        run_dir.write_status(run_dir.claimed_sweep_dir, "KILLED", run_dir.SWEEP_FILE, exit_code=exit_code)
    return exit_code


def _sweep_stopped(line: str, printed: bool = False) -> int:
    """A sweep an error stopped: its line, and the exit status; its ``sweep.json`` says FAILED
    (with this error when no job's failure explains it)."""
    if not printed:
        print(f"error: {line}", file=sys.stderr)
    status = _end_sweep_with_failures()
    if not status:
        with contextlib.suppress(OSError, FrameworkError):
            run_dir.write_status(run_dir.claimed_sweep_dir, "FAILED", run_dir.SWEEP_FILE, error=line)
    return status or ERROR_EXIT


def _sweep_error(error: Exception) -> str:
    """Hydra's and the framework's errors in their own words, anything else with its type."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(error, FrameworkError | HydraException | OmegaConfBaseException):
        return describe_hydra_error(error)
    return f"{type(error).__name__}: {one_line(str(error))}"


def _end_sweep_with_failures() -> int:
    """After a sweep: one line per job that failed or was killed (its overrides and its
    error), and the exit status (0 when every job finished)."""
    directory = run_dir.claimed_sweep_dir
    records = run_dir.job_records(directory)
    stopped = [record for record in records if record.get("status") in ("FAILED", "KILLED")]
    if not stopped:
        return 0
    with contextlib.suppress(OSError, FrameworkError):
        run_dir.write_status(directory, "FAILED", run_dir.SWEEP_FILE, failed_jobs=len(stopped))
    print(f"error: {len(stopped)} of {len(records)} jobs failed (outputs in {directory}):", file=sys.stderr)
    for record in stopped:
        overrides = " ".join(record.get("overrides") or []) or "(no overrides)"
        print(f"  job {record.get('job')}: {overrides}: {record.get('error')}", file=sys.stderr)
    return BUG_EXIT if any(record.get("exit_code") == BUG_EXIT for record in stopped) else ERROR_EXIT
