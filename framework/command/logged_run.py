"""A tracked run as the store keeps it, for the commands that start from one (``rerun``,
``diff``): the MLflow run, the config it logged (``config/config.yaml``, secrets as ``***``),
the directories it wrote (per job, so never compared), and what it ran with (the framework's
version, its plugins, the git commit), compared with what runs here."""

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from framework.command.store_check import Refused
from framework.command.store_runs import RUNS_SCHEME, find_run, split_run_uri
from framework.tracking.operations import short_error
from framework.tracking.params import clean_key, flatten_config
from framework.tracking.run_tags import git_commit
from framework.training.secrets import masked, read_yaml

#: Where a tracked run keeps the config it ran with (``tracking/artifacts.py``).
CONFIG_ARTIFACT = "config/config.yaml"
#: The tags that say what a run ran with: (label, tag).
VERSION_TAGS = (("framework", "framework_version"), ("git commit", "git_commit"))


@dataclass(frozen=True)
class LoggedRun:
    """``run`` (an MLflow ``Run``) with ``config``, the config it logged, as plain data."""

    run: object
    config: dict

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    @property
    def tags(self) -> dict:
        return self.run.data.tags

    @property
    def label(self) -> str:
        """The run's id and, when it has one, its name."""
        name = self.run.info.run_name
        return f"{self.run_id} ({name})" if name else self.run_id

    def directory_keys(self) -> set[str]:
        """The config keys that set a directory the run wrote (``output_dir``,
        ``callbacks.checkpoint.directory``, ...): its logger tagged each with its path."""
        flat = flatten_config(self.config)
        return {
            key
            for key, value in flat.items()
            if isinstance(value, str) and Path(value).is_absolute() and self.tags.get(key) == str(Path(value))
        } | ({"output_dir"} & set(flat))

    def versions(self) -> dict[str, str]:
        """What the run ran with (:func:`versions_of`), from its tags."""
        found = {label: self.tags.get(tag, "-") for label, tag in VERSION_TAGS}
        plugins = {key.removeprefix("plugin."): value for key, value in self.tags.items() if key.startswith("plugin.")}
        try:
            names = json.loads(self.tags.get("plugins", "{}"))
        except ValueError:
            names = {}
        return versions_of(found["framework"], found["git commit"], plugins, names if isinstance(names, dict) else {})


def versions_of(framework: str, commit: str, distributions: Mapping[str, str], names) -> dict[str, str]:
    """``framework``, ``git commit``, ``plugins`` (every plugin's name) and ``plugin <distribution>``
    (its version), each as text: what a run ran with, as the diff shows it and a re-run compares it."""
    found = {"framework": framework, "git commit": commit, "plugins": ", ".join(sorted(map(str, names))) or "-"}
    return found | {f"plugin {dist}": str(version) for dist, version in sorted(distributions.items())}


def versions_here(directory: Path) -> dict[str, str]:
    """What a run started here would run with, in the form of :func:`versions_of`."""
    import framework
    from framework.plugins import default_plugins

    origins = default_plugins().origins
    distributions = {clean_key(o.distribution): o.version or "-" for o in origins.values()}
    return versions_of(framework.__version__, git_commit(directory) or "-", distributions, origins)


def run_id_of(value: str, key: str) -> str:
    """The run id in ``value``: a bare id, or ``runs:/<id>``."""
    if not value.startswith(RUNS_SCHEME):
        return value
    run_id, path = split_run_uri(value, key)
    if path:
        raise Refused(f"{key}={value}: names a file inside a run; give the run alone, {RUNS_SCHEME}{run_id}")
    return run_id


def read_logged_run(client, value: str, key: str) -> LoggedRun:
    """The run ``value`` (``key=value`` as typed) names and its logged config, or :class:`Refused`:
    a malformed id, a run the store does not have, a run without a logged config, a store that
    stopped answering."""
    where = f"{key}={value}"
    run = find_run(client, run_id_of(value, key), where)
    store = masked(str(client.tracking_uri))
    try:
        logged = {entry.path for entry in client.list_artifacts(run.info.run_id, "config")}
        if CONFIG_ARTIFACT not in logged:
            kind = "a sweep's parent run" if run.data.tags.get("sweep") == "parent" else "not a framework.train run"
            raise Refused(
                f"{where}: the run has no logged config ({CONFIG_ARTIFACT}; {kind}?); give the id of a run "
                "that python -m framework.train tracked (a sweep's job, not its parent)"
            )
        config = _download_config(client, run.info.run_id)
    except Refused:
        raise
    except Exception as exc:  # MLflow, requests, SQLAlchemy and the disk each raise their own
        raise Refused(
            f"{where}: {store} stopped answering while the run was read ({type(exc).__name__}: "
            f"{short_error(exc)}); try again when it is up"
        ) from exc
    if not isinstance(config, dict):
        raise Refused(f"{where}: its {CONFIG_ARTIFACT} is not a config (a mapping of keys), so it cannot be used")
    return LoggedRun(run, config)


def _download_config(client, run_id: str):
    """The run's logged config, downloaded into a temporary directory that is removed after."""
    with tempfile.TemporaryDirectory(prefix="framework-run-config-") as directory:
        path = Path(client.download_artifacts(run_id, CONFIG_ARTIFACT, directory))
        return read_yaml(path.read_text(encoding="utf-8"))
