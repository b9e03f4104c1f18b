"""The resolved config as MLflow params: flattened to dotted keys, readable values,
within MLflow's limits, and never a secret (the rule is :mod:`framework.training.secrets`)."""

import json
import math
import numbers
import re
from collections.abc import Mapping

from framework.training.secrets import Redactor, is_secret_segment, redact_config

#: MLflow 3's limits (``mlflow.utils.validation``), kept here so this module needs no mlflow.
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_KEY_LENGTH = 250
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000

_INVALID_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9_\-. /]")


def is_number(value) -> bool:
    """A plain or NumPy number (a float32 metric too), not a bool: a value logged as a metric."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def format_value(value) -> str:
    """A param value as text: strings as they are, everything else as JSON (``null``,
    ``true``, ``[64, 32]``, ``{"name": "relu"}``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    marker = f"... [truncated, {len(text)} characters]"
    return text[: limit - len(marker)] + marker


def clean_key(key: str) -> str:
    """A key MLflow accepts: invalid characters become ``_``, at most 250 characters."""
    return _INVALID_KEY_CHARACTERS.sub("_", str(key))[:MAX_KEY_LENGTH]


def flatten_config(config: Mapping, prefix: str = "") -> dict[str, object]:
    """Nested mappings to dotted keys; lists stay values. Secret keys are left out."""
    flat: dict[str, object] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if is_secret_segment(str(key)):
            continue
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def config_params(config: Mapping, leave_out=()) -> dict[str, str]:
    """The params to log for ``config``: dotted keys, text values within MLflow's limit,
    secrets left out (also list items that hold secret keys are redacted), and the keys
    in ``leave_out`` (per-job paths) left out."""
    redactor = Redactor.from_config(config)
    params = {}
    for key, value in flatten_config(config).items():
        if key not in leave_out:
            params[clean_key(key)] = truncate(redactor.text(format_value(redact_config(value))), MAX_PARAM_VALUE_LENGTH)
    return params


def batches(metrics=(), params=(), tags=()):
    """Split entities into groups that fit one ``log_batch`` call each."""
    metrics, keyed = list(metrics), [("param", p) for p in params] + [("tag", t) for t in tags]
    while metrics or keyed:
        chunk_keyed, keyed = keyed[:MAX_PARAMS_TAGS_PER_BATCH], keyed[MAX_PARAMS_TAGS_PER_BATCH:]
        room = min(MAX_METRICS_PER_BATCH, MAX_ENTITIES_PER_BATCH - len(chunk_keyed))
        chunk_metrics, metrics = metrics[:room], metrics[room:]
        yield (
            chunk_metrics,
            [entry for kind, entry in chunk_keyed if kind == "param"],
            [entry for kind, entry in chunk_keyed if kind == "tag"],
        )
