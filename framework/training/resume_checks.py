"""Whether the run built here can continue a checkpoint: the state of its optimizer and its
epochs (once the components are built), the fit of its weights (once the model is). A refusal is a
``ConfigError`` that starts with how the user named the checkpoint (:func:`resume_key`)
and says which config values differ from the run that wrote it."""

import json
from collections.abc import Mapping

from framework.core.errors import ConfigError, InvalidValueError
from framework.training.checkpoint import Checkpoint, check_optimizer_state

AFRESH = "or start a new run without trainer.resume"


def resume_key(checkpoint: Checkpoint) -> str:
    """``trainer.resume=<the run URI it was fetched by, else its path>``: how refusals name the checkpoint."""
    return f"trainer.resume={checkpoint.source or checkpoint.path}"


def check_continues(optimizer, checkpoint: Checkpoint, epochs) -> None:
    """The built ``optimizer`` can take over the checkpoint's state (:func:`check_optimizer_state`),
    and ``epochs`` (``trainer.epochs``) are not fewer than it has completed."""
    key = resume_key(checkpoint)
    try:
        check_optimizer_state(optimizer, checkpoint)
    except InvalidValueError as exc:
        raise ConfigError(f"{key}: {str(exc).removeprefix(f'{checkpoint.path}: ')}") from exc
    done = int(checkpoint.manifest.get("completed_epochs", 0))
    if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs < done:
        raise ConfigError(
            f"{key}: the checkpoint has already completed {done} epochs, more than trainer.epochs={epochs}; "
            f"set trainer.epochs to {done} or more (the total, not the epochs to add), {AFRESH}"
        )


def check_weights_fit(model, checkpoint: Checkpoint, config: Mapping) -> None:
    """The checkpoint's weights fit the model ``config`` builds; if not, say which config
    values differ from the run that wrote it."""
    problem = _weights_problem(model.state_dict(), checkpoint.model)
    if problem is None:
        return
    saved_cfg = checkpoint.manifest.get("config") or {}
    differences = [
        f"{name}={_plain(saved_value)} (this run: {_plain(value)})"
        for name, saved_value, value in _differences(saved_cfg, config, ("model", "data"))
    ]
    hint = (
        f"it was trained with {'; '.join(differences[:4])}: resume with the same model and data settings"
        if differences
        else "resume with the model and data settings it was trained with"
    )
    raise ConfigError(f"{resume_key(checkpoint)}: the checkpoint does not fit this model ({problem}); {hint}, {AFRESH}")


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
