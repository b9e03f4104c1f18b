"""Whether a run can continue the checkpoint it names (``trainer.resume``), checked in
one place: the file, the plugins it needs, its components, dtype and epochs before
any data loads; the fit of its weights once the model is built. Each refusal is one
line that names what differs and how to resume, or to start afresh."""

import json
import re
from collections.abc import Mapping

import numpy as np

from framework.command.build import Components
from framework.command.job_config import JobConfig, section
from framework.core.errors import ConfigError, FrameworkError
from framework.plugins import Plugins
from framework.plugins.manager import autoload_enabled, blocked_from_environment
from framework.plugins.registry import SEPARATOR, bare
from framework.training.checkpoint import Checkpoint, check_optimizer_state, read_checkpoint

#: Components that must be the same to continue a run, by config label (the optimizer: check_optimizer_state).
SAME_COMPONENTS = ("loss", "data")
AFRESH = "or start a new run without trainer.resume"
#: Components a resumed run may leave out or swap (check_fits judges the layers' weights).
LEAVABLE = ("callback", "layer", "metric")


def read_resume_checkpoint(job: JobConfig) -> Checkpoint:
    try:
        return read_checkpoint(job.resume)
    except FrameworkError as exc:
        raise ConfigError(f"trainer.resume: {exc}") from exc


def check_resume(job: JobConfig, checkpoint: Checkpoint, components: Components) -> None:
    """Everything about resuming that needs no data, once the components are built."""
    where = job.resume_key
    _check_finite(checkpoint, where)
    saved = checkpoint.manifest.get("config") or {}
    for key in SAME_COMPONENTS:
        before, now = section(saved, key).get("name"), section(job.whole, key).get("name")
        if before and now and not _same_name(before, now):
            raise ConfigError(
                f"{where}: the checkpoint was trained with {key}={before}, this run has {key}={now}; "
                f"resume with {key}={before}, {AFRESH}"
            )
    before, now = section(saved, "model").get("dtype", "float32"), job.model.get("dtype", "float32")
    if np.dtype(before) != np.dtype(now):
        raise ConfigError(
            f"{where}: the checkpoint holds {before} weights, this run has model.dtype={now}; "
            f"resume with model.dtype={before}, {AFRESH}"
        )
    try:
        check_optimizer_state(components.optimizer, checkpoint)
    except FrameworkError as exc:
        shown = (
            f"{where}: {str(exc).removeprefix(f'{checkpoint.path}: ')}" if job.resume_uri else f"trainer.resume: {exc}"
        )
        raise ConfigError(shown) from exc
    _check_epochs(job, checkpoint, where)


def _same_name(before: str, now: str) -> bool:
    """``moons`` and ``extras:moons`` may be one class (the checkpoint's components pin which);
    ``extras:moons`` and ``other:moons`` are not."""
    qualified = SEPARATOR in str(before) and SEPARATOR in str(now)
    return before == now if qualified else bare(str(before)) == bare(str(now))


def with_resumed_names(plugins: Plugins, job: JobConfig, checkpoint: Checkpoint) -> JobConfig:
    """``job`` with each bare component name that now means another class than the checkpoint
    recorded (a plugin installed since shares it) written qualified, as recorded, so the resumed
    run uses the same classes. A qualified name that differs from the recorded one is refused."""
    cfg = job.whole
    resumed, typed_names = dict(cfg), job.names()
    for label, entry in (checkpoint.manifest.get("components") or {}).items():
        recorded, kind = entry.get("qualified"), entry.get("kind")
        typed = typed_names.get(label, (None, None))[1]
        if not recorded or kind not in plugins.registries or typed_names.get(label, (None,))[0] != kind:
            continue
        if bare(typed) != entry.get("name"):
            continue  # another component at that place: check_resume and check_fits judge it
        if SEPARATOR not in typed and _means_another(plugins.registry(kind), typed, recorded):
            resumed = _with_name(resumed, _steps(label), recorded)
        elif SEPARATOR in typed and typed != recorded:
            key = f"{label}.name" if isinstance(_at(cfg, _steps(label)), Mapping) else label
            raise ConfigError(
                f"{key}={typed}: the checkpoint {job.resume_key} was trained with {kind} {recorded}; "
                f"resume with {key}={recorded}, {AFRESH}"
            )
    return job.renamed(resumed) if resumed != cfg else job


def _means_another(registry, typed: str, recorded: str) -> bool:
    """Whether bare ``typed`` no longer means the class the checkpoint ``recorded`` (still registered):
    another plugin shares the name now, or replaces the built-in it meant."""
    return recorded in registry and (typed not in registry or registry.resolve(typed) != recorded)


def _steps(label: str) -> list:
    """``model.layers[1]`` as ``["model", "layers", 1]``."""
    return [int(index) if index else key for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", label)]


def _at(node, steps: list):
    for step in steps:
        node = node.get(step) if isinstance(node, Mapping) else node[step] if isinstance(node, list) else None
    return node


def _with_name(node, steps: list, name: str):
    """A copy of ``node`` whose component at ``steps`` is called ``name`` (the rest shared)."""
    if not steps:
        return (
            {**node, "name": name} if isinstance(node, Mapping) else name if isinstance(node, str) else {"name": name}
        )
    copy = dict(node) if isinstance(node, Mapping) else list(node)
    copy[steps[0]] = _with_name(_at(node, steps[:1]), steps[1:], name)
    return copy


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


def _check_epochs(job: JobConfig, checkpoint: Checkpoint, where: str) -> None:
    done = int(checkpoint.manifest.get("completed_epochs", 0))
    epochs = job.trainer.get("epochs")
    if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs < done:
        raise ConfigError(
            f"{where}: the checkpoint has already completed {done} epochs, more than trainer.epochs={epochs}; "
            f"set trainer.epochs to {done} or more (the total, not the epochs to add), {AFRESH}"
        )


def check_resume_plugins(plugins: Plugins, job: JobConfig, checkpoint: Checkpoint) -> None:
    """Every component the checkpoint was trained with and this run still uses is registered here."""
    where = job.resume_key
    for label, entry in (checkpoint.manifest.get("components") or {}).items():
        kind, name = entry.get("kind"), entry.get("qualified") or entry.get("name")
        if kind not in plugins.registries or name in plugins.registry(kind):
            continue
        if name in plugins.registry(kind).collisions():
            continue  # an older checkpoint's bare name, registered by several plugins now: the config says which
        now = job.names().get(label, (kind, ""))[1]
        if kind in LEAVABLE and bare(now) != bare(name):
            continue  # left out of the resumed run (e.g. a callback whose plugin broke): fine
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


def check_fits(model, checkpoint: Checkpoint, job: JobConfig) -> None:
    """The checkpoint's weights fit the model this config builds; if not, say which config
    values differ from the run that wrote it."""
    problem = _weights_problem(model.state_dict(), checkpoint.model)
    if problem is None:
        return
    saved_cfg = checkpoint.manifest.get("config") or {}
    differences = [
        f"{key}={_plain(saved_value)} (this run: {_plain(value)})"
        for key, saved_value, value in _differences(saved_cfg, job.whole, ("model", "data"))
    ]
    hint = (
        f"it was trained with {'; '.join(differences[:4])}: resume with the same model and data settings"
        if differences
        else "resume with the model and data settings it was trained with"
    )
    raise ConfigError(f"{job.resume_key}: the checkpoint does not fit this model ({problem}); {hint}, {AFRESH}")


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
