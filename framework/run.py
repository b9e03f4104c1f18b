"""``train(cfg)``: one training run from a composed config, as a plain function.

Everything that can be checked without data is built first, so a bad value
fails in well under a second; then the data is loaded, the model built, and the
trainer runs. Returns the monitored metric, for sweepers.
"""

import math
import os
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from framework.builders import ConfigError, build_model, construct, instantiate
from framework.plugins import Plugins, default_plugins
from framework.training.trainer import Trainer, TrainerSettings, save_run_arrays

DEFAULT_METRICS = {"classification": ["accuracy"], "regression": ["mse", "mae"]}
SPLIT_FREE_MONITORS = ("loss",)


@dataclass
class RunResult:
    """What a run produced; ``train`` returns ``value`` and keeps the rest here for callers."""

    value: float
    monitor: str
    history: object
    output_dir: Path
    trainer: Trainer
    summary: dict = field(default_factory=dict)


def _section(cfg: Mapping, key: str) -> dict:
    value = cfg.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping, got {value!r}")
    return dict(value)


def _targets(loss, y: np.ndarray, task: str, output_units: int, dtype) -> np.ndarray:
    """Integer labels for class-index losses; one-hot (or a 0/1 column) where a loss needs it."""
    if task != "classification" or loss.target_kind == "class_index":
        return y.astype(dtype) if task == "regression" else y
    if output_units == 1:
        return y.reshape(-1, 1).astype(dtype)
    return np.eye(output_units, dtype=dtype)[y]


def _output_units(loss, data) -> int:
    if data.task == "regression":
        return int(np.prod(data.y_train.shape[1:])) if data.y_train.ndim > 1 else 1
    if loss.name == "binary_cross_entropy":
        if data.num_classes != 2:
            raise ConfigError(f"loss=binary_cross_entropy needs 2 classes, data {data.name!r} has {data.num_classes}")
        return 1
    return data.num_classes


def _threads(trainer_cfg: Mapping) -> int | None:
    threads = trainer_cfg.get("threads")
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"trainer.threads={threads!r}: expected a positive number of BLAS threads, or null")
    return threads


def train(cfg: Mapping, *, plugins: Plugins | None = None, log=print) -> RunResult:
    """Run one training job described by ``cfg`` (a plain mapping or an OmegaConf config)."""
    cfg = _to_container(cfg)
    plugins = plugins or default_plugins()
    seed = cfg.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r}: expected a non-negative integer")
    output_dir = Path(cfg.get("output_dir") or os.getcwd())
    trainer_cfg = _section(cfg, "trainer")
    data_cfg, model_cfg = _section(cfg, "data"), _section(cfg, "model")

    # Everything that needs no data: checked before any loading or training.
    if "dtype" in model_cfg:
        construct(_ModelDtype, {"dtype": model_cfg["dtype"]}, "model")
    optimizer = instantiate(plugins, "optimizer", _section(cfg, "optimizer"), "optimizer")
    loss = instantiate(plugins, "loss", _section(cfg, "loss"), "loss")
    dataset = instantiate(plugins, "dataset", data_cfg, "data")
    schedule = instantiate(plugins, "schedule", _section(cfg, "schedule") or {"name": "constant"}, "schedule")
    callbacks = build_callbacks(plugins, cfg, schedule)
    threads = _threads(trainer_cfg)
    monitor = trainer_cfg.get("monitor", "val_loss")
    if monitor.startswith("val_") and getattr(dataset, "val_fraction", 1) == 0:
        raise ConfigError(
            f"trainer.monitor={monitor!r}: data.val_fraction=0 leaves no validation split; "
            "set data.val_fraction above 0 or monitor a training value (trainer.monitor=loss)"
        )
    trainer_arguments = {
        key: trainer_cfg[key]
        for key in ("epochs", "batch_size", "eval_batch_size", "grad_clip_norm")
        if key in trainer_cfg
    }
    full_batch = trainer_arguments.get("batch_size") == "full"
    construct(TrainerSettings, {**trainer_arguments, **({"batch_size": 1} if full_batch else {})}, "trainer")
    # The logger runs after every other callback (at an interruption the checkpoint is
    # written before the run is marked KILLED); a tracking server is checked before the data loads.
    logger = build_logger(plugins, cfg)
    if logger is not None:
        if hasattr(logger, "preflight"):
            logger.preflight()
        callbacks.append(logger)

    rng = np.random.default_rng(seed)
    with ExitStack() as stack:
        if threads is not None:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=threads))
            log(f"threads: {threads} BLAS thread(s) for this job")
        data = dataset.load(rng)
        metrics = build_metrics(plugins, trainer_cfg.get("metrics", "auto"), data.task)
        if full_batch:
            trainer_arguments["batch_size"] = len(data.x_train)
        units = _output_units(loss, data)
        model = build_model(plugins, model_cfg, data.input_shape, units, data.name, rng, loss)
        manifest = {"config": cfg, "components": component_manifest(plugins, cfg, callbacks, logger)}
        trainer = Trainer(
            model,
            loss,
            optimizer,
            metrics=metrics,
            callbacks=callbacks,
            rng=rng,
            plugins=plugins,
            manifest=manifest,
            **trainer_arguments,
        )
        y_train, y_val, y_test = (
            _targets(loss, y, data.task, units, model.dtype) for y in (data.y_train, data.y_val, data.y_test)
        )
        validation = (data.x_val, y_val) if len(data.x_val) else None
        log(f"data: {data.describe()}")
        log(model.summary())
        history = trainer.fit(
            data.x_train,
            y_train,
            validation,
            test_data=(data.x_test, y_test) if len(data.x_test) else None,
            classification=data.task == "classification",
            resume_from=trainer_cfg.get("resume"),
        )
        test = history.test

    last = history.last()
    if monitor not in last:
        raise ConfigError(f"trainer.monitor={monitor!r}: not among the logged values: {', '.join(sorted(last))}")
    save_run_arrays(trainer, output_dir)
    summary = {
        **{k: v for k, v in last.items() if k != "epoch"},
        **{k: v for k, v in test.items() if k != "confusion_matrix"},
    }
    log("result: " + ", ".join(f"{k}={_fmt(v)}" for k, v in summary.items()))
    log(f"outputs: {output_dir}")
    for line in getattr(logger, "summary_lines", list)():
        log(line)
    return RunResult(float(last[monitor]), monitor, history, output_dir, trainer, summary)


class _ModelDtype:
    def __init__(self, dtype):
        from framework.core.validation import check_float_dtype

        check_float_dtype("model", dtype)


def build_metrics(plugins: Plugins, names, task: str) -> list:
    if names == "auto" or names is None:
        names = DEFAULT_METRICS[task]
    if not isinstance(names, list):
        raise ConfigError(f"trainer.metrics={names!r}: expected 'auto' or a list of metric names")
    metrics = [instantiate(plugins, "metric", node, f"trainer.metrics[{i}]") for i, node in enumerate(names)]
    for i, metric in enumerate(metrics):
        if metric.task not in ("any", task):
            raise ConfigError(f"trainer.metrics[{i}]={metric.name!r}: a {metric.task} metric, but the data is {task}")
    return metrics


def build_callbacks(plugins: Plugins, cfg: Mapping, schedule) -> list:
    """Callbacks in the order the config lists them; ``null`` switches one off."""
    callbacks = []
    for name, arguments in _section(cfg, "callbacks").items():
        if arguments is None or arguments is False:
            continue
        node = {"name": name, **(arguments if isinstance(arguments, Mapping) else {})}
        callbacks.append(instantiate(plugins, "callback", node, f"callbacks.{name}"))
    if schedule.name != "constant":
        callbacks.insert(0, construct(plugins.get("callback", "lr_scheduler"), {}, "schedule", schedule=schedule))
    return callbacks


def build_logger(plugins: Plugins, cfg: Mapping):
    """The experiment logger ``logger.name`` names (a registered callback), or None for ``none``."""
    logger_cfg = _section(cfg, "logger")
    if logger_cfg.get("name", "none") in ("none", None):
        return None
    return instantiate(plugins, "callback", logger_cfg, "logger")


def component_manifest(plugins: Plugins, cfg: Mapping, callbacks, logger=None) -> dict:
    """Registry names of the run's components and the plugin distribution each comes from."""
    entries = {}

    def record(kind, name, label):
        origin = plugins.registry(kind).origin(name)
        entries[label] = {"kind": kind, "name": name, "distribution": origin.distribution, "version": origin.version}

    for kind, key in (("optimizer", "optimizer"), ("loss", "loss"), ("dataset", "data"), ("schedule", "schedule")):
        name = _section(cfg, key).get("name")
        if name:
            record(kind, name, key)
    for callback in callbacks:
        if callback is not logger:
            record("callback", callback.name, f"callbacks.{callback.name}")
    if logger is not None:
        record("callback", logger.name, "logger")
    return entries


def _to_container(cfg) -> dict:
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - hydra-core is a dependency
        return dict(cfg)
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)
    return dict(cfg)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)
