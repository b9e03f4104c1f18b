"""Whether a run can continue the checkpoint it names (``trainer.resume``), as far as the
config tells before anything is built: the plugins the checkpoint needs, the classes its
bare names meant, its components and dtype. (Its optimizer's state, its epochs and the
fit of its weights are checked once they are built: ``framework.training.resume_checks``.)
Each refusal is one line that names what differs and how to resume, or to start afresh."""

import re
from collections.abc import Mapping

import numpy as np

from framework.command.job_config import JobConfig, section
from framework.core.errors import ConfigError
from framework.plugins import Plugins
from framework.plugins.manager import autoload_enabled, blocked_from_environment
from framework.plugins.registry import SEPARATOR, bare
from framework.training.checkpoint import Checkpoint
from framework.training.resume_checks import AFRESH, resume_key

#: Components that must be the same to continue a run, by config label (the optimizer: resume_checks.check_continues).
SAME_COMPONENTS = ("loss", "data")
#: Components a resumed run may leave out or swap (check_weights_fit judges the layers' weights).
LEAVABLE = ("callback", "layer", "metric")


def check_resume(plugins: Plugins, job: JobConfig, checkpoint: Checkpoint) -> JobConfig:
    """Everything about resuming ``checkpoint`` that needs neither components nor data; ``job``
    with the component names the checkpoint pins (:func:`with_resumed_names`)."""
    check_resume_plugins(plugins, job, checkpoint)  # it may name components whose plugin is missing here
    job = with_resumed_names(plugins, job, checkpoint)
    where = resume_key(checkpoint)
    _check_finite(checkpoint, where)
    saved = checkpoint.manifest.get("config") or {}
    for key in SAME_COMPONENTS:
        before, now = section(saved, key).get("name"), section(job.whole, key).get("name")
        if before and now and not _same_name(before, now):
            raise ConfigError(
                f"{where}: the checkpoint was trained with {key}={before}, this run has {key}={now}; "
                f"resume with {key}={before}, {AFRESH}"
            )
    _check_dtype(section(saved, "model").get("dtype", "float32"), job.model.get("dtype", "float32"), where)
    return job


def _check_dtype(before, now, where: str) -> None:
    try:
        differ = np.dtype(before) != np.dtype(now)
    except (TypeError, ValueError, SyntaxError):
        return  # not a dtype: the build says so, naming model.dtype
    if differ:
        raise ConfigError(
            f"{where}: the checkpoint holds {before} weights, this run has model.dtype={now}; "
            f"resume with model.dtype={before}, {AFRESH}"
        )


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
            continue  # another component at that place: check_resume and check_weights_fit judge it
        if SEPARATOR not in typed and _means_another(plugins.registry(kind), typed, recorded):
            resumed = _with_name(resumed, _steps(label), recorded)
        elif SEPARATOR in typed and typed != recorded:
            key = f"{label}.name" if isinstance(_at(cfg, _steps(label)), Mapping) else label
            raise ConfigError(
                f"{key}={typed}: the checkpoint {resume_key(checkpoint)} was trained with {kind} {recorded}; "
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


def check_resume_plugins(plugins: Plugins, job: JobConfig, checkpoint: Checkpoint) -> None:
    """Every component the checkpoint was trained with and this run still uses is registered here."""
    where = resume_key(checkpoint)
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
