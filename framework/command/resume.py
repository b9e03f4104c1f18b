"""Whether a run can continue the checkpoint it names (``trainer.resume``), checked in
one place: the file, the plugins it needs, its components, dtype and epochs before
any data loads; the fit of its weights once the model is built. Each refusal is one
line that names what differs and how to resume, or to start afresh."""

import json
from collections.abc import Mapping

import numpy as np

from framework.command.build import Components, configured_names, section
from framework.core.errors import ConfigError, FrameworkError
from framework.plugins import Plugins
from framework.plugins.manager import autoload_enabled, blocked_from_environment
from framework.training.checkpoint import Checkpoint, check_optimizer_state, read_checkpoint

#: Components that must be the same to continue a run, by config label (the optimizer: check_optimizer_state).
SAME_COMPONENTS = ("loss", "data")
AFRESH = "or start a new run without trainer.resume"


def read_resume_checkpoint(resume) -> Checkpoint:
    try:
        return read_checkpoint(resume)
    except FrameworkError as exc:
        raise ConfigError(f"trainer.resume: {exc}") from exc


def check_resume(cfg: Mapping, checkpoint: Checkpoint, components: Components) -> None:
    """Everything about resuming that needs no data, once the components are built."""
    where = f"trainer.resume={checkpoint.path}"
    _check_finite(checkpoint, where)
    saved = checkpoint.manifest.get("config") or {}
    for key in SAME_COMPONENTS:
        before, now = section(saved, key).get("name"), section(cfg, key).get("name")
        if before and now and before != now:
            raise ConfigError(
                f"{where}: the checkpoint was trained with {key}={before}, this run has {key}={now}; "
                f"resume with {key}={before}, {AFRESH}"
            )
    before, now = section(saved, "model").get("dtype", "float32"), section(cfg, "model").get("dtype", "float32")
    if np.dtype(before) != np.dtype(now):
        raise ConfigError(
            f"{where}: the checkpoint holds {before} weights, this run has model.dtype={now}; "
            f"resume with model.dtype={before}, {AFRESH}"
        )
    try:
        check_optimizer_state(components.optimizer, checkpoint)
    except FrameworkError as exc:
        raise ConfigError(f"trainer.resume: {exc}") from exc
    _check_epochs(cfg, checkpoint, where)


def _check_finite(checkpoint: Checkpoint, where: str) -> None:
    """Weights holding NaN or infinity cannot be trained on: the run that wrote them had diverged."""
    spoiled = [
        name
        for name, array in checkpoint.model.items()
        if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all()
    ]
    if spoiled:
        raise ConfigError(
            f"{where}: the checkpoint's weights hold NaN or infinite values ({', '.join(spoiled[:3])}), so the run "
            f"that wrote it had diverged; resume from an earlier checkpoint of that run (checkpoints/epoch-<N>.npz "
            f"or best.npz), {AFRESH}"
        )


def _check_epochs(cfg: Mapping, checkpoint: Checkpoint, where: str) -> None:
    done = int(checkpoint.manifest.get("completed_epochs", 0))
    epochs = section(cfg, "trainer").get("epochs")
    if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs < done:
        raise ConfigError(
            f"{where}: the checkpoint has already completed {done} epochs, more than trainer.epochs={epochs}; "
            f"set trainer.epochs to {done} or more (the total, not the epochs to add), {AFRESH}"
        )


def check_resume_plugins(plugins: Plugins, cfg: Mapping, checkpoint: Checkpoint) -> None:
    """Every component the checkpoint was trained with and this run still uses is registered here."""
    where = f"trainer.resume={checkpoint.path}"
    for label, entry in (checkpoint.manifest.get("components") or {}).items():
        kind, name = entry.get("kind"), entry.get("name")
        if kind not in plugins.registries or name in plugins.registry(kind):
            continue
        if kind == "callback" and configured_names(cfg).get(label) != (kind, name):
            continue  # a callback left out of the resumed run (e.g. one whose plugin broke): fine
        distribution, version = entry.get("distribution"), entry.get("version")
        source = f"{distribution} {version}" if version else "a plugin registered in code"
        leave_out = f", leave {label} out of this run," if kind == "callback" else ""
        raise ConfigError(
            f"{where}: the checkpoint was trained with {kind} {name!r} ({label}) from {source}, which no plugin "
            f"registers here ({_why_missing(distribution, version)}); install or unblock the plugin that provides "
            f"it to resume{leave_out} {AFRESH}"
        )


def _why_missing(distribution, version) -> str:
    blocked = blocked_from_environment()
    if blocked:
        return f"blocked here: {', '.join(blocked)} (FRAMEWORK_DISABLE_PLUGINS)"
    if not autoload_enabled():
        return "plugin autoload is off (FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD)"
    return f"is {distribution} installed?" if version else "register that plugin again"


def check_fits(model, checkpoint: Checkpoint, cfg: Mapping) -> None:
    """The checkpoint's weights fit the model this config builds; if not, say which config
    values differ from the run that wrote it."""
    problem = _weights_problem(model.state_dict(), checkpoint.model)
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
        f"trainer.resume={checkpoint.path}: the checkpoint does not fit this model ({problem}); {hint}, {AFRESH}"
    )


def _weights_problem(expected: dict, saved: dict) -> str | None:
    missing, unexpected = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    if missing or unexpected:
        return f"missing {missing or 'nothing'}, unexpected {unexpected or 'nothing'}"
    for name, array in expected.items():
        if saved[name].shape != array.shape:
            return f"{name} has shape {saved[name].shape}, this model needs {array.shape}"
        if saved[name].dtype != array.dtype:
            return f"{name} has dtype {saved[name].dtype}, this model is {array.dtype}"
    return None


def _differences(saved: Mapping, current: Mapping, sections) -> list[tuple[str, object, object]]:
    found = []
    for group in sections:
        before, now = _flat(saved.get(group) or {}, group), _flat(current.get(group) or {}, group)
        for key in sorted(set(before) & set(now)):
            if before[key] != now[key]:
                found.append((key, before[key], now[key]))
    return found


def _flat(node, prefix: str) -> dict:
    if not isinstance(node, Mapping):
        return {prefix: node}
    items = {}
    for key, value in node.items():
        items.update(_flat(value, f"{prefix}.{key}"))
    return items


def _plain(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)
