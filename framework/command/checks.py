"""Checks before a run computes anything: values that need no data are checked before
the data loads; the monitored values, which need the data's task and splits, before
epoch 1. Each refusal is a ``ConfigError`` naming the config key."""

import contextlib
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from framework.command.build import Components, section
from framework.core.errors import ConfigError, InvalidValueError
from framework.core.npz import write_error
from framework.core.validation import check_float_dtype
from framework.plugins.construct import construct
from framework.training import hooks as hook_check
from framework.training.trainer import TrainerSettings

#: Values every epoch logs, besides the metrics (and their ``val_`` twins with validation data).
ALWAYS_LOGGED = ("loss", "lr", "seconds")
TRAINER_KEYS = ("epochs", "batch_size", "eval_batch_size", "grad_clip_norm")


def check_sections(cfg: Mapping) -> None:
    """A top-level section that is a misspelling of a known one (``+trainr.epochs=3``) would be
    ignored in silence; a section of the user's own (``+notes.author=...``) is kept."""
    from framework.command.config_keys import closest_key, known_sections

    sections = known_sections()
    for name in cfg:
        close = closest_key(str(name), sorted(sections)) if name not in sections else None
        if close:
            raise ConfigError(
                f"{name}: no such config section, so its values would be ignored; did you mean {close}? "
                f"(write {close}.<key>=..., see the keys with: python -m framework.train --cfg job)"
            )


def check_seed(cfg: Mapping) -> int:
    seed = cfg.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r}: expected a non-negative integer")
    return seed


def check_threads(trainer_cfg: Mapping) -> int | None:
    threads = trainer_cfg.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"trainer.threads={threads!r}: expected a positive number of BLAS threads, or null")
    return threads


def check_model_dtype(model_cfg: Mapping) -> None:
    if "dtype" in model_cfg:
        construct(_ModelDtype, {"dtype": model_cfg["dtype"]}, "model")


class _ModelDtype:
    def __init__(self, dtype):
        check_float_dtype("model", dtype)


def trainer_arguments(trainer_cfg: Mapping) -> dict:
    """The Trainer's keyword arguments, checked; ``batch_size: full`` stays for the data to decide."""
    arguments = {key: trainer_cfg[key] for key in TRAINER_KEYS if key in trainer_cfg}
    full_batch = arguments.get("batch_size") == "full"
    construct(TrainerSettings, {**arguments, **({"batch_size": 1} if full_batch else {})}, "trainer")
    return arguments


def check_schedule(cfg: Mapping, schedule) -> None:
    """A schedule that cannot play out within ``trainer.epochs`` (a warm-up longer than the run)."""
    epochs = section(cfg, "trainer").get("epochs", TrainerSettings.epochs)
    try:
        schedule.check_epochs(epochs)
    except InvalidValueError as exc:
        key = f"schedule.{exc.argument}"
        value = section(cfg, "schedule").get(exc.argument, getattr(schedule, exc.argument, None))
        raise ConfigError(
            f"{key}={value!r} with trainer.epochs={epochs}: {exc}; make {key} smaller than trainer.epochs, "
            "or train longer"
        ) from exc


def check_writable(directory: Path, key: str) -> None:
    """Write a probe file in ``directory``, so an unwritable output fails before training
    (not at the first checkpoint) with the config key to change. Directories created for
    the probe are removed again: a run that fails later leaves nothing behind."""
    created = []
    try:
        for parent in [*reversed(directory.parents), directory]:
            if not parent.exists():
                parent.mkdir()
                created.append(parent)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise ConfigError(f"{key}={directory}: {write_error(directory, exc)}") from exc
    finally:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()


def check_output_dirs(output_paths: Mapping[str, Path]) -> None:
    """The run's directory and every directory a component says it writes, by config key."""
    for key, directory in output_paths.items():
        check_writable(Path(directory), key)


def check_callback_hooks(plugins, components: Components) -> None:
    """Every callback's ``framework_*`` methods are lifecycle hooks taking only what their spec passes."""
    for label, callback in components.callbacks.items():
        try:
            hook_check.check_callback_hooks(callback, plugins.describe("callback", callback))
        except hook_check.CallbackHookError as exc:
            raise ConfigError(f"{label}: {exc}") from exc


def check_preflight(components: Components) -> None:
    for callback in components.callbacks.values():
        callback.preflight()


def check_classes(data) -> None:
    """A classifier needs training labels of at least two classes."""
    present = np.unique(data.y_train) if data.task == "classification" else ()
    if len(present) == 1:
        raise ConfigError(
            f"data={data.name}: every training label is class {present[0]}, so there is nothing to tell apart (the "
            "loss would be 0 and the accuracy meaningless); give labels of at least 2 classes, or task=regression "
            "for real-valued targets"
        )


def check_monitor_name(trainer_cfg: Mapping) -> str:
    """``trainer.monitor`` is a name (other components' monitors default to it)."""
    monitor = trainer_cfg.get("monitor", "val_loss")
    if not isinstance(monitor, str) or not monitor:
        raise ConfigError(f"trainer.monitor={monitor!r}: name a logged value, e.g. val_loss or val_accuracy")
    return monitor


def check_monitors(cfg: Mapping, components: Components, metrics: list, has_validation: bool) -> str:
    """``trainer.monitor`` and every component's monitor name a value each epoch logs.
    Returns ``trainer.monitor``."""
    monitor = check_monitor_name(section(cfg, "trainer"))
    logged = _logged_values(components, metrics, has_validation)
    watched = [("trainer.monitor", monitor)]
    watchers = {"schedule": components.schedule, **components.callbacks}
    watched += [
        (f"{label}.{argument}", value)
        for label, component in watchers.items()
        for argument, value in component.monitors().items()
    ]
    for key, value in watched:
        if value in logged:
            continue
        if value.startswith("val_") and not has_validation and value[4:] in logged:
            raise ConfigError(
                f"{key}={value!r}: data.val_fraction={section(cfg, 'data').get('val_fraction', 0)} leaves no "
                f"validation split; set data.val_fraction above 0 or monitor a training value ({key}={value[4:]})"
            )
        raise ConfigError(f"{key}={value!r}: not a value this run logs; choose one of: {', '.join(sorted(logged))}")
    return monitor


def _logged_values(components: Components, metrics: list, has_validation: bool) -> set[str]:
    names = {*ALWAYS_LOGGED[:1], *(metric.name for metric in metrics)}
    logged = names | {f"val_{name}" for name in names if has_validation} | set(ALWAYS_LOGGED)
    for callback in components.callbacks.values():
        logged.update(callback.logged_values())
    return logged
