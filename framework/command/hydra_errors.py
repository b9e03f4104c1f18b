"""Hydra's errors about the command line and the configs, and the machine's errors
the framework did not word itself, as one line each: what is wrong, and what to do."""

import re

from framework.command.config_keys import closest_key, known_keys
from framework.core.errors import FrameworkError

HELP = "python -m framework.train --help"


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


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
            return line
    return _generic(error)


def _text(error: BaseException) -> str:
    text = str(error).split("Config search path:")[0]
    return re.sub(r"^In '[^']*': ", "", text.strip())


def _missing_config(error: BaseException) -> str | None:
    from hydra.errors import MissingConfigException, SearchPathException

    if isinstance(error, MissingConfigException) and error.options is not None and error.missing_cfg_file:
        group, _, option = str(error.missing_cfg_file).rpartition("/")
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


def _unparsable_override(error: BaseException) -> str | None:
    from hydra.errors import OverrideParseException

    if not isinstance(error, OverrideParseException):
        return None
    reason = error.message.splitlines()[0].strip() if error.message else "malformed"
    return (
        f"cannot parse the override {error.override!r}: {reason}; write key=value (close every bracket and "
        "quote, and quote the whole override for the shell: 'model.hidden=[64,32]'); "
        "https://hydra.cc/docs/advanced/override_grammar/basic/"
    )


def _unknown_key(error: BaseException) -> str | None:
    match = re.match(r"Could not override '([^']+)'", _text(error))
    if match is None or error.__cause__ is None or "not in struct" not in str(error.__cause__):
        return None
    key = match.group(1)
    close = closest_key(key, known_keys())
    if close:
        return (
            f"{key}: no such config key; did you mean {close}? (see the keys with: python -m framework.train --cfg job)"
        )
    return (
        f"{key}: no such config key; to add a new key write +{key}=..., "
        f"or see the keys with: python -m framework.train --cfg job"
    )


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
