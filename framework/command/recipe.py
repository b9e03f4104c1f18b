"""``train(cfg)``: the recipe of one run, top to bottom. Check everything that needs no
data, load the data, check what needs it, build, fit, save, report. Returns the
monitored value (for sweepers) with what the run produced."""

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from framework.command import checks
from framework.command.build import (
    build_components,
    build_metrics,
    build_model,
    check_model_and_metric_names,
    component_origins,
    output_units,
)
from framework.command.job_config import JobConfig, section
from framework.command.resume import (
    check_fits,
    check_resume,
    check_resume_plugins,
    read_resume_checkpoint,
    with_resumed_names,
)
from framework.command.resume_fetch import fetch_checkpoint
from framework.command.threads import blas_threads, job_thread_share
from framework.console import to_log_file
from framework.plugins import Plugins, default_plugins
from framework.tracking.run_tags import run_name
from framework.training.checkpoint import Checkpoint
from framework.training.run import Run
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
    job, checkpoint = resume_checkpoint(job, context, log)
    if checkpoint is not None:
        check_resume_plugins(plugins, job, checkpoint)  # it may name components whose plugin is missing here
        job = with_resumed_names(plugins, job, checkpoint)
    components = build_components(plugins, job.nodes)
    check_model_and_metric_names(plugins, job.model, job.trainer.get("metrics", "auto"))
    checks.check_schedule(job, components.schedule)
    if checkpoint is not None:
        check_resume(job, checkpoint, components)
    run = describe_run(job, context, checkpoint, components, plugins)
    checks.check_callback_hooks(plugins, components)
    checks.check_output_dirs(run.output_paths)
    checks.check_preflight(components)

    rng, trainer_arguments = np.random.default_rng(job.seed), dict(job.trainer_arguments)
    with blas_threads(job.threads, log):
        data = components.dataset.load(rng)
        checks.check_classes(data)
        metrics = build_metrics(plugins, job.trainer.get("metrics", "auto"), data.task)
        checks.check_monitors(job, components, metrics, has_validation=len(data.x_val) > 0)
        units = output_units(components.loss, data)
        model = build_model(plugins, job.model, data, units, rng, components.loss)
        if checkpoint is not None:
            check_fits(model, checkpoint, job)
        if trainer_arguments.get("batch_size") == "full":
            trainer_arguments["batch_size"] = len(data.x_train)
        callbacks = [*components.callbacks.values(), *trial_callbacks(context.trial, job.monitor)]
        trainer = Trainer(
            model, components.loss, components.optimizer, metrics=metrics, callbacks=callbacks, rng=rng,
            plugins=plugins, run=replace(run, data=data, monitor=job.monitor), **trainer_arguments,
        )  # fmt: skip
        log(f"data: {data.describe()}")
        log_model(model, context, log)
        history = fit(trainer, data, units)
    summary = report(history, run.output_dir, callbacks, log)
    return RunResult(float(history.last()[job.monitor]), job.monitor, history, run.output_dir, trainer, summary)


def resume_checkpoint(job: JobConfig, context: JobContext, log) -> tuple[JobConfig, Checkpoint | None]:
    """The checkpoint the run continues (None: a new run); one a tracked run uploaded
    (``trainer.resume=runs:/...``) is fetched first from the store this run's config tracks to."""
    if job.resume_uri is None:
        return job, None if job.resume is None else read_resume_checkpoint(job)
    logger = section(job.whole, "logger")
    launch_dir = Path(logger.get("launch_dir") or context.launch_dir)
    fetched = fetch_checkpoint(job.resume_uri, logger.get("tracking_uri"), launch_dir, output_dir_of(job, context))
    log(f"resume: {fetched.uri} fetched to {fetched.checkpoint.path}")
    return job.fetched(fetched.uri, fetched.checkpoint.path), fetched.checkpoint


def output_dir_of(job: JobConfig, context: JobContext) -> Path:
    return Path(job.whole.get("output_dir") or context.output_dir or Path.cwd())


def describe_run(job: JobConfig, context: JobContext, checkpoint, components, plugins: Plugins) -> Run:
    output_dir = output_dir_of(job, context)
    written = {
        f"{label}.{argument}": Path(directory)
        for label, callback in components.callbacks.items()
        for argument, directory in callback.output_dirs().items()
    }
    return Run(
        config=job.whole,
        output_dir=output_dir,
        output_paths={"output_dir": output_dir, **written},
        name=run_name(context.overrides),
        resume_from=checkpoint,
        components=component_origins(plugins, job.names(), components),
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


def fit(trainer: Trainer, data, units: int):
    """Fit on the data's splits; the trainer writes the weights and the history into the run's
    directory, even when an error ends the fit once training has begun."""
    dtype = trainer.model.dtype
    targets = [_targets(trainer.loss, y, data.task, units, dtype) for y in (data.y_train, data.y_val, data.y_test)]
    validation = (data.x_val, targets[1]) if len(data.x_val) else None
    test = (data.x_test, targets[2]) if len(data.x_test) else None
    classification = data.task == "classification"
    return trainer.fit(data.x_train, targets[0], validation, test_data=test, classification=classification)


def report(history, output_dir: Path, callbacks: list, log) -> dict:
    summary = {
        **{k: v for k, v in history.last().items() if k != "epoch"},
        **{k: v for k, v in history.test.items() if k != "confusion_matrix"},
    }
    log("result: " + ", ".join(f"{k}={_fmt(v)}" for k, v in summary.items()))
    log(f"outputs: {output_dir}")
    for callback in callbacks:
        for line in callback.summary_lines():
            log(line)
    return summary


def _targets(loss, y: np.ndarray, task: str, units: int, dtype) -> np.ndarray:
    """Integer labels for class-index losses; one-hot (or a 0/1 column) where a loss needs it."""
    if task != "classification" or loss.target_kind == "class_index":
        return y.astype(dtype) if task == "regression" else y
    if units == 1:
        return y.reshape(-1, 1).astype(dtype)
    return np.eye(units, dtype=dtype)[y]


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)
