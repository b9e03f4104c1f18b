"""``python -m framework.tracking rerun <run id> [overrides]``: a new run of exactly the config a
tracked run logged (its ``config/config.yaml``), with the overrides given on top.

The logged config becomes Hydra's primary config for one run (a file in a temporary
directory, given to Hydra with ``--config-dir``/``--config-name``; ``conf/``'s groups are still
found), so the overrides are Hydra's own (``key=value``, ``+key=value``, ``~key``, a group's
option such as ``optimizer=sgd``, which replaces that section) and the run is an ordinary run
of the command: its own directory, ``run.json``, ``train.log``, checks and tracking. Only what
belongs to the source run's job is not taken over: its directories (the new run writes into
its own) and a checkpoint it continued (the re-run trains from the start). Values the source
logged as ``***`` (secrets) are not in the store: each must be given as an override."""

import contextlib
import copy
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from framework.command.logged_run import LoggedRun, read_logged_run, versions_here
from framework.command.paths import conf_dir
from framework.command.store_check import Refused
from framework.command.store_runs import open_store
from framework.tracking.run_tags import RERUN_ENV, override_key
from framework.tracking.store import TRACKING_URI_ENV
from framework.training.secrets import REDACTED, Redactor, masked, read_yaml, write_yaml

#: The name of the primary config a re-run is composed from.
CONFIG_NAME = "rerun"
#: A job's own directory, as ``conf/config.yaml`` sets it.
JOB_DIRECTORY = "${hydra:runtime.output_dir}"


def rerun(tracking_uri: str | None, value: str, overrides: list[str]) -> int:
    """Re-run the run ``value`` names in the store ``tracking_uri`` with ``overrides``; the exit status."""
    from framework.command.entry import run_primary_config

    client, uri = open_store(tracking_uri, "rerun")
    source = read_logged_run(client, value, "run_id")
    check_overrides(overrides)
    missing = missing_secrets(source.config, overrides)
    if missing:
        raise Refused(
            f"run_id={value}: the run logged {', '.join(missing)} as {REDACTED} (secrets are never stored); "
            f"give {'them' if len(missing) > 1 else 'it'} on the command line: {' '.join(f'{k}=...' for k in missing)}"
        )
    groups = group_choices(source.config, overrides)
    config, notes = rerun_config(source, overrides, groups)
    for line in [*differences(source.versions(), versions_here(Path.cwd())), *notes]:
        print(f"warning: {line}", file=sys.stderr)
    shown = " ".join(map(Redactor().override, overrides)) or "(none)"
    print(f"rerun: {source.label} from {masked(uri)}; overrides: {shown}", flush=True)
    with primary_config(config, groups) as directory, _environment({RERUN_ENV: source.run_id, TRACKING_URI_ENV: uri}):
        return run_primary_config(directory, CONFIG_NAME, overrides)


def check_overrides(overrides: list[str]) -> None:
    """A preset (``+experiment=...``) changes the groups of a config composed from ``conf/``,
    which a re-run's is not."""
    for override in overrides:
        if override_key(override) == "experiment":
            raise Refused(
                f"{override}: a re-run starts from the run's logged config, where a preset has nothing to change; "
                "give the values it sets as overrides, or start a new run: python -m framework.train " + override
            )


def redacted_keys(config, prefix: str = "") -> list[str]:
    """The dotted keys whose logged values were secrets (``***``, or a URI's ``:***@`` password)."""
    if isinstance(config, Mapping):
        items = [(f"{prefix}{key}", value) for key, value in config.items()]
    elif isinstance(config, list):
        items = [(f"{prefix.rstrip('.')}[{index}]", value) for index, value in enumerate(config)]
    else:
        return [prefix.rstrip(".")] if isinstance(config, str) and (config == REDACTED or ":***@" in config) else []
    return [found for key, value in items for found in redacted_keys(value, f"{key}.")]


def missing_secrets(config: Mapping, overrides: list[str]) -> list[str]:
    """The redacted keys that no override sets (an override of a section covers every key in it)."""
    given = [override_key(o) for o in overrides if "=" in o or o.startswith("~")]
    return [
        key for key in redacted_keys(config) if not any(key == g or key.startswith((f"{g}.", f"{g}[")) for g in given)
    ]


def group_choices(config: Mapping, overrides: list[str]) -> dict[str, str]:
    """The overrides that choose a config group's option (``optimizer=sgd``): a top-level key whose
    logged value is a section, given a name (not a mapping, not null)."""
    choices = {}
    for override in overrides:
        key, equals, value = override.partition("=")
        named = value.strip() not in ("", "null") and not value.strip().startswith("{")
        if equals and named and key.isidentifier() and isinstance(config.get(key), Mapping):
            choices[key] = value
    return choices


def rerun_config(source: LoggedRun, overrides: list[str], groups: Mapping) -> tuple[dict, list[str]]:
    """The source's config as a re-run's primary config, and notes on what is not taken over: its
    job's directories become the new job's, a checkpoint it continued is not, the sections of the
    groups chosen anew are left to their options. Literal ``${`` is escaped."""
    config = _escaped(copy.deepcopy(source.config))
    old_dir = str(config.get("output_dir") or "")
    for key in sorted(source.directory_keys() - {"output_dir"}):
        _set(config, key, _in_job_directory(str(_get(config, key)), old_dir))
    config["output_dir"] = JOB_DIRECTORY
    notes = []
    resume = (config.get("trainer") or {}).get("resume")
    if resume is not None and "trainer.resume" not in map(override_key, overrides):
        config["trainer"]["resume"] = None
        notes.append(
            f"trainer.resume={resume}: the source run continued this checkpoint; the re-run trains from the "
            "start (give trainer.resume=... to continue a checkpoint)"
        )
    for group in groups:
        config.pop(group, None)
    return config, notes


def differences(source: Mapping[str, str], here: Mapping[str, str]) -> list[str]:
    """One line for each of the framework, the git commit and the plugins (names, distributions'
    versions) on which the source run (``LoggedRun.versions``) and this place (``versions_here``) differ."""
    lines = [
        f"{label}: the source run ran {source.get(label, '-')}, this re-run runs {here.get(label, '-')}"
        for label in ("framework", "git commit")
        if source.get(label, "-") != here.get(label, "-")
    ]
    names_there, names_here = (set(filter(None, v.get("plugins", "").split(", "))) - {"-"} for v in (source, here))
    changed = [f"{name} (only in the source run)" for name in sorted(names_there - names_here)]
    changed += [f"{name} (only here)" for name in sorted(names_here - names_there)]
    distributions = sorted({key for key in (*source, *here) if key.startswith("plugin ")})
    changed += [
        f"{key.removeprefix('plugin ')} {source.get(key, '(absent)')} -> {here.get(key, '(absent)')}"
        for key in distributions
        if source.get(key) != here.get(key)
    ]
    if changed:
        lines.append(f"plugins differ from the source run's: {', '.join(changed)}")
    return [f"{line}; results may differ" for line in lines]


@contextlib.contextmanager
def primary_config(config: Mapping, groups: Mapping[str, str]) -> Iterator[Path]:
    """A temporary directory holding ``rerun.yaml``: ``config`` with ``conf/config.yaml``'s Hydra
    settings and a defaults entry for each group chosen anew; removed afterwards."""
    framework_config = read_yaml((conf_dir() / "config.yaml").read_text(encoding="utf-8"))
    hydra_defaults = [
        entry
        for entry in framework_config["defaults"]
        if isinstance(entry, dict) and all(str(key).startswith("override hydra/") for key in entry)
    ]
    defaults = [*({group: option} for group, option in groups.items()), *hydra_defaults, "_self_"]
    directory = Path(tempfile.mkdtemp(prefix="framework-rerun-"))
    try:
        body = {"defaults": defaults, **config, "hydra": framework_config["hydra"]}
        write_yaml(body, directory / f"{CONFIG_NAME}.yaml")
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _in_job_directory(path: str, old_dir: str) -> str:
    """A directory inside the source job's, as the same place inside the new job's directory."""
    if not old_dir or not (path == old_dir or path.startswith(old_dir.rstrip("/") + "/")):
        return path
    return "${output_dir}" + path[len(old_dir.rstrip("/")) :]


def _escaped(value):
    """Logged values as literals: OmegaConf would read ``${`` in a string as an interpolation."""
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value.replace("${", "\\${") if isinstance(value, str) else value


def _get(config: Mapping, dotted: str):
    for part in dotted.split("."):
        config = config[part]
    return config


def _set(config: dict, dotted: str, value) -> None:
    *sections, last = dotted.split(".")
    for part in sections:
        config = config[part]
    config[last] = value
