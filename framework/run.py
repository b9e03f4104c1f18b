"""``train(cfg)``: one training run from a composed config, as a plain function.

Everything that can be checked without data is built first, so a bad value
fails in well under a second; then the data is loaded, the model built, and the
trainer runs. Returns the monitored metric, for sweepers.
"""

import contextlib
import math
import os
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from framework.builders import ConfigError, build_model, construct, instantiate
from framework.core.errors import FrameworkError
from framework.core.npz import write_error
from framework.plugins import Plugins, default_plugins
from framework.plugins.manager import autoload_enabled, blocked_from_environment
from framework.training.checkpoint import Checkpoint, read_checkpoint
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

    # Everything that needs no data: checked before any loading or training. The checkpoint
    # to resume from first: it may name components whose plugin is missing here.
    resume = trainer_cfg.get("resume")
    checkpoint = check_resume(plugins, cfg, resume) if resume is not None else None
    if "dtype" in model_cfg:
        construct(_ModelDtype, {"dtype": model_cfg["dtype"]}, "model")
    optimizer = instantiate(plugins, "optimizer", _section(cfg, "optimizer"), "optimizer")
    loss = instantiate(plugins, "loss", _section(cfg, "loss"), "loss")
    dataset = instantiate(plugins, "dataset", data_cfg, "data")
    schedule = instantiate(plugins, "schedule", _section(cfg, "schedule") or {"name": "constant"}, "schedule")
    callbacks = build_callbacks(plugins, cfg, schedule)
    threads = _threads(trainer_cfg)
    check_writable(output_dir, "output_dir")
    for callback in callbacks:
        if callback.name == "checkpoint":
            check_writable(Path(callback.directory), f"callbacks.{callback.name}.directory")
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
        if checkpoint is not None:
            check_fits(model, checkpoint, cfg, resume)
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
            resume_from=resume,
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
        from omegaconf.errors import OmegaConfBaseException
    except ImportError:  # pragma: no cover - hydra-core is a dependency
        return dict(cfg)
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


# -- before anything is loaded: resuming and writing can work ---------------------------


def check_writable(directory: Path, key: str) -> None:
    """Write a probe file in ``directory``, so an unwritable output fails before training
    (not at the first checkpoint) with the config key to change. Directories created for
    the probe are removed again: a run that fails later leaves nothing behind."""
    import tempfile

    created = []
    try:
        for parent in [*reversed(directory.parents), directory]:
            if not parent.exists():
                parent.mkdir()
                created.append(parent)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        error = write_error(directory, exc)
        raise ConfigError(f"{key}={directory}: {error}") from exc
    finally:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()


def check_resume(plugins: Plugins, cfg: Mapping, resume) -> Checkpoint:
    """Read the checkpoint to resume from (a bad file fails now, before the data loads) and
    check that this run can continue it: every component it was trained with and still uses is
    available (a plugin may be missing or blocked), and the optimizer is the same."""
    path = f"trainer.resume={resume}"
    try:
        checkpoint = read_checkpoint(resume)
    except FrameworkError as exc:
        raise ConfigError(f"trainer.resume: {exc}") from exc
    for label, entry in (checkpoint.manifest.get("components") or {}).items():
        kind, name = entry.get("kind"), entry.get("name")
        if kind not in plugins.registries or name in plugins.registry(kind):
            continue
        if kind == "callback" and not _configured(cfg, label, name):
            continue  # a callback left out of the resumed run (e.g. one whose plugin broke): fine
        distribution, version = entry.get("distribution"), entry.get("version")
        source = f"{distribution} {version}" if version else "a plugin registered in code"
        blocked = blocked_from_environment()
        why = (
            f"blocked here: {', '.join(blocked)} (FRAMEWORK_DISABLE_PLUGINS)"
            if blocked
            else "plugin autoload is off (FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD)"
            if not autoload_enabled()
            else f"is {distribution} installed?"
            if version
            else "register that plugin again"
        )
        leave_out = f", leave {label} out of this run," if kind == "callback" else ""
        raise ConfigError(
            f"{path}: the checkpoint was trained with {kind} {name!r} ({label}) from {source}, which no plugin "
            f"registers here ({why}); install or unblock the plugin that provides it to resume{leave_out} "
            "or start a new run without trainer.resume"
        )
    saved = (checkpoint.manifest.get("config") or {}).get("optimizer") or {}
    current = _section(cfg, "optimizer")
    if saved.get("name") and current.get("name") and saved["name"] != current["name"]:
        raise ConfigError(
            f"{path}: the checkpoint was trained with optimizer={saved['name']}, this run has "
            f"optimizer={current['name']}; its state cannot carry over to another optimizer: resume with "
            f"optimizer={saved['name']}, or start a new run without trainer.resume"
        )
    return checkpoint


def _configured(cfg: Mapping, label: str, name: str) -> bool:
    """Whether this run's config uses the callback the checkpoint lists as ``label``."""
    if label == "logger":
        return _section(cfg, "logger").get("name") == name
    section, _, key = label.partition(".")
    value = _section(cfg, section).get(key) if section == "callbacks" else None
    return value is not None and value is not False


def check_fits(model, checkpoint: Checkpoint, cfg: Mapping, resume) -> None:
    """The checkpoint's weights fit the model this config builds; if not, say which config
    values differ from the run that wrote it."""
    expected = model.state_dict()
    problem = None
    missing = sorted(set(expected) - set(checkpoint.model))
    unexpected = sorted(set(checkpoint.model) - set(expected))
    if missing or unexpected:
        problem = f"missing {missing or 'nothing'}, unexpected {unexpected or 'nothing'}"
    else:
        for name, array in expected.items():
            saved = checkpoint.model[name]
            if saved.shape != array.shape:
                problem = f"{name} has shape {saved.shape}, this model needs {array.shape}"
            elif saved.dtype != array.dtype:
                problem = f"{name} has dtype {saved.dtype}, this model is {array.dtype}"
            if problem:
                break
    if problem is None:
        return
    saved_cfg = checkpoint.manifest.get("config") or {}
    differences = [
        f"{key}={_plain(saved_value)} (this run: {_plain(value)})"
        for key, saved_value, value in _differences(saved_cfg, cfg, ("model", "data"))
    ]
    hint = (
        f"it was trained with {'; '.join(differences[:4])}: resume with the same model and data settings"
        if differences
        else "resume with the model and data settings it was trained with"
    )
    raise ConfigError(
        f"trainer.resume={resume}: the checkpoint does not fit this model ({problem}); {hint}, "
        "or start a new run without trainer.resume"
    )


def _differences(saved: Mapping, current: Mapping, sections) -> list[tuple[str, object, object]]:
    def flat(node, prefix):
        if isinstance(node, Mapping):
            items = {}
            for key, value in node.items():
                items.update(flat(value, f"{prefix}.{key}"))
            return items
        return {prefix: node}

    found = []
    for section in sections:
        before, now = flat(saved.get(section) or {}, section), flat(current.get(section) or {}, section)
        for key in sorted(set(before) & set(now)):
            if before[key] != now[key]:
                found.append((key, before.get(key), now.get(key)))
    return found


def _plain(value) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)
