"""Hydra's errors about the command line and the configs, and the machine's errors
the framework did not word itself, as one line each: what is wrong, and what to do."""

import functools
import importlib.util
import os
import re

from framework.command.config_keys import closest_key, known_keys
from framework.core.errors import FrameworkError
from framework.tracking.run_tags import RERUN_ENV

HELP = "python -m framework.train --help"
#: Hydra's plugin groups; a plugin for group ``hydra/<kind>`` is the distribution ``hydra-<name>-<kind>``,
#: whose options start with ``<name>`` (``hydra/launcher=submitit_local`` from ``hydra-submitit-launcher``).
PLUGIN_GROUPS = ("hydra/launcher", "hydra/sweeper")


#: The longest run of characters without a space a message keeps (a pasted array, a hostile override).
LONGEST_WORD = 240


def one_line(text: str) -> str:
    """``text`` on one line, safe for a terminal: control characters shown escaped (``\\x1b``), and
    overlong runs without a space cut."""
    joined = " ".join(line.strip() for line in text.splitlines() if line.strip())
    shown = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in joined)
    return re.sub(rf"\S{{{LONGEST_WORD + 1},}}", _cut, shown)


def _cut(match: re.Match) -> str:
    word = match.group()
    return f"{word[:LONGEST_WORD]}...({len(word) - LONGEST_WORD} more characters)"


def describe_os_error(error: OSError) -> str:
    """One line for an ``OSError`` the framework did not explain itself."""
    from framework.core.npz import is_file_system_error

    where = f"{error.filename}: " if error.filename else ""
    reason = f"{where}{error.strerror or one_line(str(error)) or 'failed'} ({type(error).__name__})"
    if is_file_system_error(error):
        return (
            f"{reason}; check that the path exists and is readable, that the output directory is writable "
            "and its disk has space, or choose another (hydra.run.dir=<dir>)"
        )
    return reason


def describe_hydra_error(error: BaseException) -> str:
    """One line for an error raised while Hydra reads the command line and the configs."""
    if isinstance(error, FrameworkError):  # the framework's Hydra plugins and callbacks: already one clear line
        return one_line(str(error))
    for describe in (_missing_config, _unparsable_override, _unknown_key, _not_yaml, _unwritable_dir):
        line = describe(error)
        if line is not None:
            return one_line(line)
    return one_line(_generic(error))


def _text(error: BaseException) -> str:
    text = str(error).split("Config search path:")[0]
    return re.sub(r"^In '[^']*': ", "", text.strip())


def _missing_config(error: BaseException) -> str | None:
    from hydra.errors import MissingConfigException, SearchPathException

    if isinstance(error, MissingConfigException) and error.options is not None and error.missing_cfg_file:
        group, _, option = str(error.missing_cfg_file).rpartition("/")
        extra = _plugin_extra(group, option)
        if extra is not None:
            return (
                f"{group}={option}: this option comes with the framework's {extra!r} extra, which is not installed; "
                f"install it: {install_command(extra)}"
            )
        choices = ", ".join(error.options) or "none"
        return (
            f"{group}={option}: the config group {group!r} has no option {option!r}; "
            f"choose one of: {choices}{_blocked_note()}"
        )
    if isinstance(error, MissingConfigException):
        return f"{one_line(_text(error)).rstrip('.')}; check the name (--config-name) and --config-dir"
    if isinstance(error, SearchPathException):
        return f"{one_line(_text(error))}; give an existing directory to --config-dir"
    return None


def _plugin_extra(group: str, option: str) -> str | None:
    if group not in PLUGIN_GROUPS:
        return None
    kind, name = group.rpartition("/")[2], option.partition("_")[0]
    return extra_providing(f"hydra_{name}_{kind}")


def missing_plugin_module(config) -> str | None:
    """One line if a ``_target_`` of the configured sweeper or launcher is in a module that is
    not installed (``optuna`` for ``hydra/sweeper=optuna_study``), else None."""
    from omegaconf import OmegaConf

    choices = OmegaConf.select(config, "hydra.runtime.choices", default={}) or {}
    for group in PLUGIN_GROUPS:
        node = OmegaConf.select(config, group.replace("/", "."), default=None)
        targets = _targets(OmegaConf.to_container(node, resolve=False) if node is not None else None)
        for module in filter(None, map(_missing_module, targets)):
            extra = extra_providing(module)
            fix = f"install the {extra!r} extra: {install_command(extra)}" if extra else f"install {module}"
            return (
                f"{group}={choices.get(group, '?')} needs the module {module!r}, which is not installed; "
                f"{fix}, or choose another {group}"
            )
    return None


def _targets(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["_target_"]] if isinstance(node.get("_target_"), str) else []
        return own + [target for value in node.values() for target in _targets(value)]
    if isinstance(node, list):
        return [target for value in node for target in _targets(value)]
    return []


def _missing_module(target: str) -> str | None:
    """The first module on the way to ``target`` that is not installed (a namespace package,
    such as ``hydra_plugins``, is looked into); None when its package is there."""
    parts = target.split(".")
    for end in range(1, len(parts)):
        name = ".".join(parts[:end])
        try:
            spec = importlib.util.find_spec(name)
        except ImportError:
            return None  # a broken package: Hydra's own error says how
        if spec is None:
            return name
        if spec.origin is not None:
            return None
    return None


def extra_providing(module: str) -> str | None:
    """The framework's extra whose requirements install ``module`` (``"sweep"`` for ``optuna``)."""
    normalized = set(module.lower().split("."))
    return next((extra for name, extra in _extras().items() if name in normalized), None)


def install_command(extra: str) -> str:
    return f'pip install "framework[{extra}]"'


@functools.cache
def _extras() -> dict[str, str]:
    """The framework's optional requirements, from its installed metadata: ``{module-like name: extra}``."""
    from importlib import metadata

    try:
        requirements = metadata.requires("framework") or []
    except metadata.PackageNotFoundError:
        return {}
    extras = {}
    for text in requirements:
        name = re.match(r"[A-Za-z0-9._-]+", text).group()
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", text)
        if extra and name != "framework":
            extras.setdefault(re.sub(r"[-.]+", "_", name.lower()), extra.group(1))
    return extras


def _unparsable_override(error: BaseException) -> str | None:
    from hydra.errors import OverrideParseException

    if not isinstance(error, OverrideParseException):
        return None
    hint = _override_hint(str(error.override or ""))
    if hint is not None:
        return hint
    reason = error.message.splitlines()[0].strip() if error.message else "malformed"
    return (
        f"cannot parse the override {error.override!r}: {reason}; write key=value (close every bracket and "
        "quote, and quote the whole override for the shell: 'model.hidden=[64,32]'); "
        "https://hydra.cc/docs/advanced/override_grammar/basic/"
    )


def see_keys() -> str:
    """Where the config's keys are shown: a re-run's config is its source's logged one, not ``conf/``'s."""
    source = os.environ.get(RERUN_ENV)
    if source:
        return f"see the keys in the config/config.yaml artifact of run {source}"
    return "see the keys with: python -m framework.train --cfg job"


#: Longer keys cannot be config keys (Hydra looks a key up as a file name, at most 255 bytes).
LONGEST_KEY = 200


def overlong_key(arguments: list[str]) -> str | None:
    """One line for an override whose key is far longer than any config key, else None."""
    for argument in arguments:
        key, equals, _ = argument.partition("=")
        if equals and len(key) > LONGEST_KEY:
            return one_line(
                f"{key}: a key of {len(key):,} characters, and config keys are short dotted names; check the "
                f"override ({see_keys()})"
            )
    return None


def _override_hint(override: str) -> str | None:
    """What Hydra's grammar cannot read in an override, when it is something a user types by habit:
    a letter outside ASCII in a key, or ``~`` for the home directory."""
    key, _, value = override.partition("=")
    foreign = next((char for char in key if not char.isascii()), None)
    if foreign is not None:
        return (
            f"{key}: the key holds {foreign!r} (U+{ord(foreign):04X}, character {key.index(foreign) + 1}), and config "
            "keys are ASCII letters, digits, '_' and '.'; type the key again in ASCII "
            f"({see_keys()})"
        )
    if value.startswith("~/"):
        return (
            f"{key}={value}: the shell does not expand ~ inside key=value, and Hydra cannot read it; write the full "
            f"path, or {key}=$HOME{value[1:]} (the shell expands $HOME)"
        )
    if "~" in value or not value.isascii():
        odd = "~" if "~" in value else next(char for char in value if not char.isascii())
        return (
            f"{key}={value}: Hydra cannot read {odd!r} in a value that is not quoted; quote the value for Hydra inside "
            f"the shell's quotes: '{key}=\"{value}\"'"
        )
    return None


def _unknown_key(error: BaseException) -> str | None:
    match = re.match(r"Could not override '([^']+)'", _text(error))
    if match is None or error.__cause__ is None or "not in struct" not in str(error.__cause__):
        return None
    key = match.group(1)
    close = closest_key(key, known_keys())
    if close:
        return f"{key}: no such config key; did you mean {close}? ({see_keys()})"
    return f"{key}: no such config key; to add a new key write +{key}=..., or {see_keys()}"


def _not_yaml(error: BaseException) -> str | None:
    import yaml

    if isinstance(error, yaml.YAMLError):
        return f"a config file does not parse as YAML: {one_line(str(error))}; fix that file"
    return None


def _unwritable_dir(error: BaseException) -> str | None:
    from framework.core.npz import is_file_system_error

    if not is_file_system_error(error):
        return None
    where = f"{error.filename}: " if error.filename else ""
    return (
        f"{where}{error.strerror or _message(error)} ({type(error).__name__}); Hydra cannot create or write the job's "
        "directory there: choose a writable one (hydra.run.dir=<dir>, with -m: hydra.sweep.dir=<dir>)"
    )


def _message(error: BaseException) -> str:
    message = one_line(_text(error)) or type(error).__name__
    cause = error.__cause__
    if cause is not None and str(cause) and str(cause) not in message:
        message += f": {one_line(str(cause))}"
    return message


def _generic(error: BaseException) -> str:
    from hydra.errors import CompactHydraException

    message = _message(error)
    if not isinstance(error, CompactHydraException):
        message = (
            f"{type(error).__name__} while reading the command line and configs: {message}; "
            f"check the overrides ({HELP}), or set HYDRA_FULL_ERROR=1 for the traceback"
        )
    return message + _blocked_note()


def _blocked_note() -> str:
    from framework.plugins.manager import blocked_note

    return blocked_note()
