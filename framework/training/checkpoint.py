"""The checkpoint file: one ``.npz`` with the model's arrays (``model/...``), the
optimizer's (``optimizer/...``), callbacks' arrays (``callbacks/<name>/...``) and a
JSON manifest (``manifest``) holding everything else: format version, position in
training, RNG state, history, component names and their plugins, versions and the
run's config. Written atomically; read without pickle."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framework.core.errors import FileFormatError, InvalidValueError
from framework.core.npz import load_npz, save_npz
from framework.core.optimizers import Optimizer

FORMAT = "framework-checkpoint"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    path: Path
    manifest: dict
    model: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]
    callbacks: dict[str, dict]
    #: Where the file was fetched from, when it is a copy of a tracked run's (``runs:/<id>/<path>``).
    source: str | None = None


def split_state(state: dict) -> tuple[dict, dict]:
    """Separate arrays (for the npz) from JSON values (for the manifest)."""
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    values = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    return arrays, values


def write_checkpoint(path, manifest: dict, model: dict, optimizer: dict, callbacks: dict[str, dict]) -> Path:
    arrays = {f"model/{k}": v for k, v in model.items()}
    arrays.update({f"optimizer/{k}": v for k, v in optimizer.items()})
    callback_values = {}
    for name, state in callbacks.items():
        callback_arrays, callback_values[name] = split_state(state)
        arrays.update({f"callbacks/{name}/{k}": v for k, v in callback_arrays.items()})
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest, "callback_state": callback_values}
    arrays["manifest"] = np.array(json.dumps(full, default=_json_default))
    return save_npz(path, arrays)


DAMAGED = "a file the checkpoint callback wrote was changed or replaced: resume from another copy or checkpoint"


def read_checkpoint(path) -> Checkpoint:
    path = Path(path)
    arrays = load_npz(path)
    if "manifest" not in arrays:
        raise FileFormatError(
            f"{path}: not a framework checkpoint (it has no manifest; weights.npz and history.npz are not "
            "checkpoints); resume from one the checkpoint callback wrote, e.g. <run dir>/checkpoints/last.npz"
        )
    try:
        manifest = json.loads(str(arrays.pop("manifest")))
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{path}: the checkpoint manifest is not valid JSON ({exc}); {DAMAGED}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("callback_state", {}), dict):
        raise FileFormatError(
            f"{path}: the checkpoint manifest is a JSON {_json_kind(manifest)}, not the object a checkpoint "
            f"holds; {DAMAGED}"
        )
    for key in ("config", "components"):
        if not isinstance(manifest.get(key, {}), dict):
            raise FileFormatError(
                f"{path}: the checkpoint manifest's {key!r} is a JSON {_json_kind(manifest[key])}, not the object "
                f"a checkpoint holds; {DAMAGED}"
            )
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise FileFormatError(
            f"{path}: unsupported checkpoint format {manifest.get('format')!r} version "
            f"{manifest.get('format_version')!r}; this framework reads {FORMAT!r} version {FORMAT_VERSION}: "
            f"resume it with the framework version that wrote it ({manifest.get('framework_version', 'unknown')})"
        )
    groups: dict[str, dict] = {"model": {}, "optimizer": {}}
    callbacks: dict[str, dict] = {name: dict(values) for name, values in manifest.pop("callback_state", {}).items()}
    for key, array in arrays.items():
        group, _, rest = key.partition("/")
        if group == "callbacks":
            name, _, field = rest.partition("/")
            callbacks.setdefault(name, {})[field] = array
        elif group in groups:
            groups[group][rest] = array
    return Checkpoint(path, manifest, groups["model"], groups["optimizer"], callbacks)


def optimizer_state(checkpoint: Checkpoint) -> dict:
    """The optimizer's arrays in ``checkpoint`` (without the trainer's own)."""
    return {k: v for k, v in checkpoint.optimizer.items() if not k.startswith("trainer/")}


def check_optimizer_state(optimizer: Optimizer, checkpoint: Checkpoint) -> None:
    """The checkpoint's optimizer must be this one: the same registry name when the
    checkpoint records it, and state of this optimizer's kind (its slots); otherwise
    resuming would fail at the first step or silently mix up moments."""
    saved = sorted({key.rsplit("/", 1)[1] for key in optimizer_state(checkpoint) if "/" in key})
    written_with = ((checkpoint.manifest.get("components") or {}).get("optimizer") or {}).get("name")
    ours = optimizer.name or type(optimizer).__name__
    if written_with and optimizer.name and written_with != optimizer.name:
        problem = f"the checkpoint was trained with optimizer={written_with}, this run has optimizer={ours}"
    elif saved and saved != sorted(optimizer.slots):
        by = f"optimizer {written_with!r}" if written_with else "another optimizer"
        problem = (
            f"it holds the state of {by} (slots {', '.join(saved)}), but this run's optimizer {ours!r} "
            f"has slots {', '.join(optimizer.slots) or 'none'}"
        )
    else:
        return
    advice = f"resume with optimizer={written_with}" if written_with else "resume with the optimizer that wrote it"
    raise InvalidValueError(
        f"{checkpoint.path}: {problem}; its state cannot carry over to another optimizer: {advice}, "
        "or start a new run without resuming"
    )


def _json_kind(value) -> str:
    kinds = {list: "list", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint manifest")
