"""The resolved config as MLflow params: flattened to dotted keys, readable values,
within MLflow's limits, and never a secret.

The secret rule (:func:`is_secret_key`): a config key is a secret when one of its
dotted segments, split into words at ``_``, ``-``, ``.`` and camelCase
boundaries and compared case-insensitively,

- contains one of the words ``password``, ``passwd``, ``passphrase``, ``secret``,
  ``secrets``, ``token``, ``credential``, ``credentials``, ``apikey``, ``accesskey``,
  ``privatekey``; or
- is exactly ``key``; or
- has ``key`` right after one of ``api``, ``access``, ``private``, ``secret``,
  ``auth``, ``encryption``, ``signing``, ``ssh``, ``client``, ``master``.

So ``storage.api_key``, ``db.password``, ``hub.token``, ``aws.secret``,
``aws.secret_access_key``, ``apiKey`` and ``key`` are secrets, and everything
below a secret segment is too (``credentials.user``); ``data.x_key``,
``sort_key``, ``max_tokens`` and ``tokenizer`` are not. Secret values are left
out of the params and replaced by ``***`` in every text the tracker uploads
(config files, Hydra's files, the command line tag).
"""

import itertools
import json
import math
import numbers
import re
from collections.abc import Mapping

#: MLflow 3's limits (``mlflow.utils.validation``), kept here so this module needs no mlflow.
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_KEY_LENGTH = 250
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000

REDACTED = "***"
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "credential",
        "credentials",
        "apikey",
        "accesskey",
        "privatekey",
    }
)
KEY_QUALIFIERS = frozenset(
    {"api", "access", "private", "secret", "auth", "encryption", "signing", "ssh", "client", "master"}
)

_WORD_BOUNDARY = re.compile(r"[_\-.\s]+|(?<=[a-z0-9])(?=[A-Z])")
_INVALID_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9_\-. /]")


def _words(segment: str) -> list[str]:
    return [word.lower() for word in _WORD_BOUNDARY.split(str(segment)) if word]


def is_secret_segment(segment: str) -> bool:
    words = _words(segment)
    if words == ["key"]:
        return True
    if any(word in SECRET_WORDS for word in words):
        return True
    return any(first in KEY_QUALIFIERS and second == "key" for first, second in itertools.pairwise(words))


def is_secret_key(key: str) -> bool:
    """Whether the dotted config ``key`` names a secret (see the module docstring for the rule)."""
    return any(is_secret_segment(segment) for segment in str(key).split("."))


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


def redact_config(value):
    """A copy of ``value`` with the values of secret keys replaced by ``***``, at any depth."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret_segment(str(k)) else redact_config(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_config(v) for v in value]
    return value


def scrub(config: Mapping) -> dict:
    """``config`` with secret keys' values replaced by ``***`` and every secret value (a password
    in a URI too) replaced wherever it appears in a string."""
    redactor = Redactor.from_config(config)

    def walk(value):
        if isinstance(value, Mapping):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return redactor.text(value) if isinstance(value, str) else value

    return walk(redact_config(dict(config)))


def secret_values(value, inside_secret: bool = False) -> set[str]:
    """Every scalar value stored under a secret key (as text), at any depth."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for k, v in value.items():
            found |= secret_values(v, inside_secret or is_secret_segment(str(k)))
    elif isinstance(value, list | tuple):
        for v in value:
            found |= secret_values(v, inside_secret)
    elif inside_secret and value is not None and not isinstance(value, bool):
        found.add(str(value))
    elif isinstance(value, str) and "://" in value:
        password = _password_in(value)  # postgresql://user:pw@host: a secret under any key
        if password:
            found.add(password)
    return found


def _password_in(uri: str) -> str | None:
    from urllib.parse import urlparse

    try:
        return urlparse(uri).password
    except ValueError:
        return None


class Redactor:
    """Replaces known secret values (and ``secret_key=value`` overrides) in text with ``***``."""

    #: Values shorter than this are not scrubbed from free text (``1`` would hit every number).
    MIN_LENGTH = 4

    def __init__(self, secrets=()):
        self.secrets = sorted({s for s in secrets if len(s) >= self.MIN_LENGTH}, key=len, reverse=True)

    @classmethod
    def from_config(cls, config) -> "Redactor":
        return cls(secret_values(config))

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def override(self, override: str) -> str:
        """``db.password=hunter2`` -> ``db.password=***``; other overrides only scrubbed."""
        key, sep, _ = override.partition("=")
        if sep and is_secret_key(key.lstrip("+~")):
            return f"{key}={REDACTED}"
        return self.text(override)


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
