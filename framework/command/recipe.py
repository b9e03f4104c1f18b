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
from framework.command.build import section as config_section
from framework.command.resume import (
    check_fits,
    check_resume,
    check_resume_plugins,
    read_resume_checkpoint,
    with_resumed_names,
)
from framework.command.threads import blas_threads, job_thread_share
from framework.console import to_log_file
from framework.core.errors import ConfigError, FrameworkError
from framework.plugins import Plugins, default_plugins
from framework.training.run import Run
from framework.training.trainer import Trainer, save_run_arrays
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

    @property
    def run_name(self) -> str | None:
        chosen = [o for o in self.overrides if not o.lstrip("+~").startswith(("logger", "hydra"))]
        return ",".join(chosen)[:250] or None


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
    cfg, plugins, context = to_container(cfg), plugins or default_plugins(), context or JobContext()
    # Everything that needs no data, before any loading.
    checks.check_sections(cfg)
    seed, trainer_cfg = checks.check_seed(cfg), config_section(cfg, "trainer")
    threads = checks.check_threads(trainer_cfg) or context.threads
    cfg["trainer"] = trainer_cfg = {**trainer_cfg, "threads": threads}  # recorded as it ran (results depend on it)
    resume = trainer_cfg.get("resume")  # relative to where the command was started (hydra.job.chdir may move)
    checkpoint = None if resume is None else read_resume_checkpoint(context.launch_dir / str(resume))
    if checkpoint is not None:
        check_resume_plugins(plugins, cfg, checkpoint)  # it may name components whose plugin is missing here
        cfg = with_resumed_names(plugins, cfg, checkpoint)
        trainer_cfg = config_section(cfg, "trainer")
    checks.check_model_dtype(config_section(cfg, "model"))
    checks.check_monitor_name(trainer_cfg)
    components = build_components(plugins, cfg)
    check_model_and_metric_names(plugins, cfg)
    trainer_arguments = checks.trainer_arguments(trainer_cfg)
    checks.check_schedule(cfg, components.schedule)
    if checkpoint is not None:
        check_resume(cfg, checkpoint, components)
    run = describe_run(cfg, context, checkpoint, components, component_origins(plugins, cfg, components))
    checks.check_callback_hooks(plugins, components)
    checks.check_output_dirs(run.output_paths)
    checks.check_preflight(components)

    rng = np.random.default_rng(seed)
    with blas_threads(threads, log):
        data = components.dataset.load(rng)
        checks.check_classes(data)
        metrics = build_metrics(plugins, trainer_cfg.get("metrics", "auto"), data.task)
        monitor = checks.check_monitors(cfg, components, metrics, has_validation=len(data.x_val) > 0)
        units = output_units(components.loss, data)
        model = build_model(plugins, config_section(cfg, "model"), data, units, rng, components.loss)
        if checkpoint is not None:
            check_fits(model, checkpoint, cfg)
        if trainer_arguments.get("batch_size") == "full":
            trainer_arguments["batch_size"] = len(data.x_train)
        callbacks = [*components.callbacks.values(), *trial_callbacks(context.trial, monitor)]
        trainer = Trainer(
            model, components.loss, components.optimizer, metrics=metrics, callbacks=callbacks, rng=rng,
            plugins=plugins, run=replace(run, data=data), **trainer_arguments,
        )  # fmt: skip
        log(f"data: {data.describe()}")
        log_model(model, context, log)
        history = fit_and_save(trainer, data, units, run.output_dir)
    summary = report(history, run.output_dir, callbacks, log)
    return RunResult(float(history.last()[monitor]), monitor, history, run.output_dir, trainer, summary)


def describe_run(cfg: dict, context: JobContext, checkpoint, components, origins) -> Run:
    output_dir = Path(cfg.get("output_dir") or context.output_dir or Path.cwd())
    written = {
        f"{label}.{argument}": Path(directory)
        for label, callback in components.callbacks.items()
        for argument, directory in callback.output_dirs().items()
    }
    return Run(
        config=cfg,
        output_dir=output_dir,
        output_paths={"output_dir": output_dir, **written},
        name=context.run_name,
        resume_from=checkpoint,
        components=origins,
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


def fit_and_save(trainer: Trainer, data, units: int, output_dir: Path):
    """Fit, then write the weights and the history; once training has begun, they are
    written even when an error ends the fit."""
    dtype = trainer.model.dtype
    targets = [_targets(trainer.loss, y, data.task, units, dtype) for y in (data.y_train, data.y_val, data.y_test)]
    validation = (data.x_val, targets[1]) if len(data.x_val) else None
    test = (data.x_test, targets[2]) if len(data.x_test) else None
    try:
        history = trainer.fit(
            data.x_train, targets[0], validation, test_data=test, classification=data.task == "classification"
        )
    except BaseException as error:
        if trainer.global_step > 0:
            try:
                save_run_arrays(trainer, output_dir)
            except (OSError, FrameworkError) as save_error:
                error.add_note(f"the trained weights could not be written either: {save_error}")
        raise
    save_run_arrays(trainer, output_dir)
    return history


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


def to_container(cfg) -> dict:
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(cfg, DictConfig):
        return dict(cfg)
    try:
        missing = sorted(OmegaConf.missing_keys(cfg))
        if not missing:
            return OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{key or 'config'}: {reason}; fix the ${{...}} interpolation (it names another config key, "
            "e.g. ${trainer.epochs}) or give a plain value"
        ) from exc
    raise ConfigError(
        f"{missing[0]}: a value is required (the config has ???); give it on the command line ({missing[0]}=...)"
        + (f"; also missing: {', '.join(missing[1:])}" if len(missing) > 1 else "")
    )


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)
