"""What a run refuses once its components are built: before its data loads, a schedule
that cannot play out in its epochs, a callback with a malformed hook, a directory it
cannot write; once the model is built, a monitor that no epoch logs. Each refusal is a
``ConfigError`` that names the component by its config label (``schedule``,
``callbacks.checkpoint``)."""

import contextlib
import tempfile
from collections.abc import Mapping
from pathlib import Path

from framework.core.errors import ConfigError, InvalidValueError
from framework.core.npz import write_error
from framework.training import hooks as hook_check
from framework.training.trainer import TrainerSettings

#: Values every epoch logs, besides the metrics (and their ``val_`` twins with validation data).
ALWAYS_LOGGED = ("loss", "lr", "seconds")


def check_before_data(
    components, output_paths: Mapping[str, Path], trainer_cfg: Mapping, schedule_cfg: Mapping, describe
):
    """Everything about the built ``components`` that needs no data; ``describe(kind, component)``
    names a component by its plugin."""
    check_schedule(components.schedule, trainer_cfg.get("epochs", TrainerSettings.epochs), schedule_cfg)
    for label, callback in components.callbacks.items():
        try:
            hook_check.check_callback_hooks(callback, describe("callback", callback))
        except hook_check.CallbackHookError as exc:
            raise ConfigError(f"{label}: {exc}") from exc
    for key, directory in output_paths.items():
        check_writable(Path(directory), key)
    for callback in components.callbacks.values():
        callback.preflight()


def check_schedule(schedule, epochs, schedule_cfg: Mapping) -> None:
    """A schedule that cannot play out within ``trainer.epochs`` (a warm-up longer than the run)."""
    try:
        schedule.check_epochs(epochs)
    except InvalidValueError as exc:
        key = f"schedule.{exc.argument}"
        value = schedule_cfg.get(exc.argument, getattr(schedule, exc.argument, None))
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


def check_monitors(monitor: str, watchers: Mapping, metrics: list, data, val_fraction) -> None:
    """``trainer.monitor`` and the monitors of ``watchers`` (components by config label) name a
    value each epoch logs."""
    has_validation = len(data.x_val) > 0
    logged = _logged_values(watchers, metrics, has_validation)
    watched = [("trainer.monitor", monitor)]
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
                f"{key}={value!r}: data.val_fraction={val_fraction} leaves no validation split; set "
                f"data.val_fraction above 0 or monitor a training value ({key}={value[4:]})"
            )
        raise ConfigError(f"{key}={value!r}: not a value this run logs; choose one of: {', '.join(sorted(logged))}")


def _logged_values(watchers: Mapping, metrics: list, has_validation: bool) -> set[str]:
    names = {*ALWAYS_LOGGED[:1], *(metric.name for metric in metrics)}
    logged = names | {f"val_{name}" for name in names if has_validation} | set(ALWAYS_LOGGED)
    for component in watchers.values():
        logged.update(component.logged_values())
    return logged
