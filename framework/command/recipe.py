"""``train(cfg)``: the recipe of one run, top to bottom. Read the config and the checkpoint
it continues, build the components and check them, load the data, build the model and
check what needs it, fit, save, report. Returns the monitored value (for sweepers) with
what the run produced."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from framework.command.job_config import JobConfig, section
from framework.command.resume import check_resume
from framework.command.resume_fetch import fetch_checkpoint
from framework.command.threads import blas_threads, job_thread_share
from framework.console import to_log_file
from framework.core.errors import ConfigError, FrameworkError
from framework.plugins import Plugins, default_plugins
from framework.plugins.build import build_components, build_for_data, with_components
from framework.tracking.run_tags import run_name
from framework.training.checkpoint import Checkpoint, read_checkpoint
from framework.training.fit_splits import fit_splits, report
from framework.training.resume_checks import check_continues, check_weights_fit
from framework.training.run import Run
from framework.training.run_checks import check_before_data, check_monitors
from framework.training.trainer import Trainer
from framework.tuning.trial import TrialRef, trial_callbacks


@dataclass(frozen=True)
class JobContext:
    """What the launcher knows about a job and the config does not: its overrides, its
    number in a sweep, where it was launched from, its share of the cores."""

    overrides: tuple[str, ...] = ()
    job_number: int | None = None
    launch_dir: Path = field(default_factory=Path.cwd)
    output_dir: Path | None = None
    threads: int | None = None
    multirun: bool = False
    #: The tuning trial this job is, when a study's sweeper launched it.
    trial: TrialRef | None = None

    @classmethod
    def from_hydra(cls) -> "JobContext":
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode
        from omegaconf import OmegaConf

        hydra = HydraConfig.get()
        multirun = hydra.mode == RunMode.MULTIRUN
        return cls(
            overrides=tuple(OmegaConf.to_container(hydra.overrides.task, resolve=False)),  # as typed: ${...} too
            job_number=OmegaConf.select(hydra, "job.num", default=None) if multirun else None,
            launch_dir=Path(hydra.runtime.cwd),
            output_dir=Path(hydra.runtime.output_dir),
            threads=job_thread_share(OmegaConf.select(hydra, "launcher", default={}) or {}, multirun),
            multirun=multirun,
            trial=TrialRef.from_hydra(hydra) if multirun else None,
        )


@dataclass
class RunResult:
    """What a run produced; ``train`` returns it, the command passes ``value`` on to sweepers."""

    value: float
    monitor: str
    history: object
    output_dir: Path
    trainer: Trainer
    summary: dict = field(default_factory=dict)


def train(cfg: Mapping, *, plugins: Plugins | None = None, log=print, context: JobContext | None = None) -> RunResult:
    """Run one training job described by ``cfg`` (a plain mapping or an OmegaConf config)."""
    plugins, context = plugins or default_plugins(), context or JobContext()
    # Everything that needs no data, before any loading.
    job = JobConfig.read(cfg, context.threads, context.launch_dir)
    job, checkpoint = resumed(job, context, plugins, log)
    run, names, rng = describe_run(job, context, checkpoint, plugins), job.names(), np.random.default_rng(job.seed)
    with blas_threads(job.threads, log):
        components = build_components(plugins, job.nodes, job.model, job.trainer_arguments, job.trainer.get("metrics"))
        run = with_components(run, plugins, names, components)
        callbacks = [*components.callbacks.values(), *trial_callbacks(context.trial, job.monitor)]
        if checkpoint is not None:
            check_continues(components.optimizer, checkpoint, job.trainer.get("epochs"))
        check_before_data(components, run.output_paths, job.trainer, job.schedule, plugins.describe)
        data = components.dataset.load(rng)
        model, metrics, units = build_for_data(
            plugins, job.model, job.trainer.get("metrics"), components.loss, data, rng
        )
        watchers = {"schedule": components.schedule, **components.callbacks}
        check_monitors(job.monitor, watchers, metrics, data, job.data.get("val_fraction", 0))
        if checkpoint is not None:
            check_weights_fit(model, checkpoint, job.whole)
        trainer_arguments = dict(job.trainer_arguments)
        if trainer_arguments.get("batch_size") == "full":
            trainer_arguments["batch_size"] = len(data.x_train)
        trainer = Trainer(
            model, components.loss, components.optimizer, metrics=metrics, callbacks=callbacks, rng=rng,
            plugins=plugins, run=replace(run, data=data, monitor=job.monitor), **trainer_arguments,
        )  # fmt: skip
        log(f"data: {data.describe()}")
        log_model(model, context, log)
        history = fit_splits(trainer, data, units)
    summary = report(history, run.output_dir, callbacks, log)
    return RunResult(float(history.last()[job.monitor]), job.monitor, history, run.output_dir, trainer, summary)


def resumed(job: JobConfig, context: JobContext, plugins: Plugins, log) -> tuple[JobConfig, Checkpoint | None]:
    """``job`` as it continues its checkpoint (:func:`check_resume`), and the checkpoint (None: a new
    run); one a tracked run uploaded (``trainer.resume=runs:/...``) is fetched first from the store
    this run's config tracks to."""
    if job.resume is None and job.resume_uri is None:
        return job, None
    if job.resume_uri is not None:
        logger, output_dir = section(job.whole, "logger"), output_dir_of(job, context)
        launch_dir = Path(logger.get("launch_dir") or context.launch_dir)
        checkpoint = fetch_checkpoint(job.resume_uri, logger.get("tracking_uri"), launch_dir, output_dir)
        log(f"resume: {checkpoint.source} fetched to {checkpoint.path}")
    else:
        try:
            checkpoint = read_checkpoint(job.resume)
        except FrameworkError as exc:
            raise ConfigError(f"trainer.resume: {exc}") from exc
    return check_resume(plugins, job, checkpoint), checkpoint


def output_dir_of(job: JobConfig, context: JobContext) -> Path:
    return Path(job.whole.get("output_dir") or context.output_dir or Path.cwd())


def describe_run(job: JobConfig, context: JobContext, checkpoint, plugins: Plugins) -> Run:
    """The run, before its components are built (``with_components`` adds them)."""
    output_dir = output_dir_of(job, context)
    return Run(
        config=job.whole,
        output_dir=output_dir,
        output_paths={"output_dir": output_dir},
        name=run_name(context.overrides),
        resume_from=checkpoint,
        plugins={name: (origin.distribution, origin.version) for name, origin in plugins.origins.items()},
        overrides=context.overrides,
        job_number=context.job_number,
        launch_dir=context.launch_dir,
        trial=context.trial and context.trial.info,
    )


def log_model(model, context: JobContext, log) -> None:
    """The model's layer table; a sweep's later jobs print only its last line (the parameter
    count) and keep the table in their log file, so a sweep prints the table once."""
    table = model.summary()
    if not context.job_number:
        log(table)
        return
    in_file = to_log_file(table, logging.INFO)
    log(f"model: {table.splitlines()[-1]}" + ("; its layers are in this job's train.log" if in_file else ""))
