"""Checks before a run computes anything: values that need no data are checked before
the data loads; the monitored values, which need the data's task and splits, before
epoch 1. Each refusal is a ``ConfigError`` naming the config key."""

import contextlib
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from framework.command.build import Components
from framework.command.job_config import JobConfig
from framework.core.errors import ConfigError, InvalidValueError
from framework.core.npz import write_error
from framework.training import hooks as hook_check
from framework.training.trainer import TrainerSettings

#: Values every epoch logs, besides the metrics (and their ``val_`` twins with validation data).
ALWAYS_LOGGED = ("loss", "lr", "seconds")


def check_schedule(job: JobConfig, schedule) -> None:
    """A schedule that cannot play out within ``trainer.epochs`` (a warm-up longer than the run)."""
    epochs = job.trainer.get("epochs", TrainerSettings.epochs)
    try:
        schedule.check_epochs(epochs)
    except InvalidValueError as exc:
        key = f"schedule.{exc.argument}"
        value = job.schedule.get(exc.argument, getattr(schedule, exc.argument, None))
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


def check_monitors(job: JobConfig, components: Components, metrics: list, has_validation: bool) -> None:
    """``trainer.monitor`` and every component's monitor name a value each epoch logs."""
    monitor = job.monitor
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
                f"{key}={value!r}: data.val_fraction={job.data.get('val_fraction', 0)} leaves no "
                f"validation split; set data.val_fraction above 0 or monitor a training value ({key}={value[4:]})"
            )
        raise ConfigError(f"{key}={value!r}: not a value this run logs; choose one of: {', '.join(sorted(logged))}")


def _logged_values(components: Components, metrics: list, has_validation: bool) -> set[str]:
    names = {*ALWAYS_LOGGED[:1], *(metric.name for metric in metrics)}
    logged = names | {f"val_{name}" for name in names if has_validation} | set(ALWAYS_LOGGED)
    for callback in components.callbacks.values():
        logged.update(callback.logged_values())
    return logged
