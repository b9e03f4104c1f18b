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
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from framework.command.hydra_errors import missing_plugin_module, one_line
from framework.command.launch_checks import check_launch
from framework.command.outcome import RunStopped
from framework.command.redaction import job_redactor, redact_logging
from framework.command.store_runs import stored
from framework.command.sweep_stop import stop_jobs_on_sigterm
from framework.core.errors import ConfigError
from framework.core.npz import atomic_write
from framework.training.run_status import (
    RUN_FILE,
    SWEEP_FILE,
    continues_in,
    job_records,
    may_be_live,
    process_record,
    read_status,
    write_status,
)

#: Files that show a directory holds a run or sweep written before run.json existed.
LEGACY_MARKERS = (".hydra", "multirun.yaml")

#: The sweep directory this process claimed, for the summary of failed jobs at its end.
claimed_sweep_dir: Path | None = None


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
        json.dump({"status": "RUNNING", **process_record()}, handle)
    return True


def _stop(line: str) -> None:
    print(f"error: {one_line(line)}", file=sys.stderr, flush=True)
    raise RunStopped(2)


def claim(directory: Path, file: str = RUN_FILE, resume: str | None = None) -> Path:
    """The directory this run writes to: ``directory`` if free (or resumed in place), else
    the first free ``<dir>-N``. An ``OSError`` creating ``directory`` itself is raised."""
    directory = Path(directory).absolute()
    if _resumes_in_place(directory, file, resume):
        _take_over(directory, file)
        return directory
    if _try_claim(directory, file):
        return directory
    number = 1
    while True:
        number += 1
        candidate = directory.with_name(f"{directory.name}-{number}")
        try:
            if _try_claim(candidate, file):
                break
        except OSError as exc:
            _stop(f"{directory} holds another run, and {candidate} cannot be created ({exc.strerror}); choose "
                  "another directory (hydra.run.dir=<dir>, with -m: hydra.sweep.dir=<dir>)")  # fmt: skip
    with contextlib.suppress(OSError):
        print(f"outputs: {directory} holds another run; this one writes to {candidate}", flush=True)
    return candidate


def _resumes_in_place(directory: Path, file: str, resume: str | None) -> bool:
    """Resuming from the ``last.npz`` of a stopped run in ``directory`` continues it there (one fetched
    from a store, ``runs:/...``, never does: it starts a directory of its own)."""
    if resume is None or stored(resume) or not (directory / file).exists() or not continues_in(directory, resume):
        return False
    record = read_status(directory, file)
    if may_be_live(record):
        _stop(
            f"hydra.run.dir={directory}: its run (process {record.get('pid')} on {record.get('host')}) may "
            "still be running; once it has stopped, resume again, or resume into a new directory "
            "(leave out hydra.run.dir)"
        )
    return True


def _take_over(directory: Path, file: str) -> None:
    """Keep the stopped run's record and Hydra files beside the resumed run's."""
    record = read_status(directory, file)
    earlier = [*record.pop("previous", []), record]
    hydra_files = directory / ".hydra"
    if hydra_files.is_dir():
        hydra_files.rename(directory / f".hydra.{len(earlier)}")
    atomic_write(
        directory / file,
        lambda handle: handle.write(
            json.dumps({"status": "RUNNING", **process_record(), "previous": earlier}).encode()
        ),
    )


def _override_value(path: Path) -> str:
    from hydra.core.override_parser.types import Quote, QuotedString

    return QuotedString(text=str(path).replace("${", "\\${"), quote=Quote.single).with_quotes()


class ClaimRunDirectory(Callback):
    """Claims the run's (or the sweep's) directory before Hydra writes into it. A directory
    that cannot be created is left to Hydra, which then reports it in one line."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        _refuse_bad_launch(config, multirun=False)
        resume = OmegaConf.select(config, "trainer.resume", default=None)
        requested = Path(str(config.hydra.run.dir))
        try:
            directory = claim(requested, RUN_FILE, resume)
        except OSError:
            return
        if directory != requested.absolute():
            with read_write(config.hydra.run), open_dict(config.hydra.run):
                config.hydra.run.dir = str(directory)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        global claimed_sweep_dir
        claimed_sweep_dir = None  # none yet in this command (a notebook or test may run several)
        missing = missing_plugin_module(config)
        if missing is not None:  # before anything is recorded: a sweep that cannot start leaves nothing RUNNING
            _stop(missing)
        _refuse_bad_launch(config, multirun=True)
        redact_logging(job_redactor(config))  # the launcher logs each job's overrides
        requested = Path(str(config.hydra.sweep.dir))
        try:
            directory = claimed_sweep_dir = claim(requested, SWEEP_FILE)
        except OSError:
            return
        if directory != requested:  # moved aside, or relative: a job may start in another directory (SLURM)
            with read_write(config.hydra), open_dict(config.hydra):
                config.hydra.sweep.dir = str(directory)
                # Each job's config is composed again from the overrides: the absolute directory must be one.
                config.hydra.overrides.hydra.append(f"hydra.sweep.dir={_override_value(directory)}")
        stop_jobs_on_sigterm(directory)
        _say_where_jobs_write(config, directory)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if claimed_sweep_dir is not None:
            with contextlib.suppress(OSError):
                write_status(claimed_sweep_dir, "FINISHED", SWEEP_FILE)
            if _out_of_sight(config) is not None:
                records = job_records(claimed_sweep_dir)
                finished = sum(record.get("status") == "FINISHED" for record in records)
                print(f"jobs: {finished} of {len(records)} finished; outputs in {claimed_sweep_dir}", flush=True)


def _refuse_bad_launch(config: DictConfig, multirun: bool) -> None:
    """Stop, in one line, a launch that would write outside its directory or cannot run
    (framework/command/launch_checks.py); before anything is written or submitted."""
    try:
        check_launch(config, multirun)
    except ConfigError as exc:
        _stop(str(exc))


def _out_of_sight(config: DictConfig) -> str | None:
    """The launcher, if it sends its jobs' lines to files (submitit, by its ``submitit_folder``):
    then nothing shows here while they run."""
    if OmegaConf.select(config, "hydra.launcher.submitit_folder", default=None) is None:
        return None
    return (OmegaConf.select(config, "hydra.runtime.choices", default={}) or {}).get("hydra/launcher", "?")


def _say_where_jobs_write(config: DictConfig, directory: Path) -> None:
    launcher = _out_of_sight(config)
    if launcher is not None:
        print(
            f"jobs: hydra/launcher={launcher} runs each job in a process of its own and shows none of its lines "
            f"here; follow each job's train.log under {directory} (this waits until every job has ended)",
            flush=True,
        )
