"""The secret rule, and everything that hides secrets: in configs, text, URIs and YAML.

The rule (:func:`is_secret_key`): a config key is a secret when one of its
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

import enum
import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

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


def masked(uri: str) -> str:
    """``uri`` with any password replaced by ``***`` (``postgresql://user:***@host/db``): for every
    place a tracking URI is shown, logged or stored (also in one that does not parse)."""
    try:
        parts = urlparse(uri)
        password = parts.password
    except ValueError:
        return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", uri)
    if password is None:
        return uri
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def read_yaml(text: str):
    """Parsed YAML (safe), by libyaml when PyYAML has it: several times faster than pure Python."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def write_yaml(data, path: Path, redactor: Redactor | None = None) -> Path:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(_plain(data), Dumper=dumper, sort_keys=False, allow_unicode=True)
    path.write_text(redactor.text(text) if redactor else text, encoding="utf-8")
    return path


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path | enum.Enum):
        return str(value.name if isinstance(value, enum.Enum) else value)
    return value


def redact_yaml_file(source: Path, target: Path, redactor: Redactor) -> Path:
    """A copy of a YAML file with secret keys' values (and secret ``key=value`` overrides) replaced."""
    import yaml

    try:
        data = read_yaml(source.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        data = None
    if data is None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(redactor.text(source.read_text(encoding="utf-8")), encoding="utf-8")
        return target
    return write_yaml(redact_tree(data, redactor), target)


def redact_tree(value, redactor: Redactor):
    """Parsed YAML with secret keys' values replaced, and secret values (and secret ``key=value``
    overrides) in its strings."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_segment(str(k)) else redact_tree(v, redactor)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v, redactor) for v in value]
    if isinstance(value, str):
        return redactor.override(value) if "=" in value else redactor.text(value)
    return value
