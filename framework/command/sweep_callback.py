"""Sweeps as one parent run with a child run per job.

``conf/logger/mlflow.yaml`` enables :class:`MLflowSweepCallback` as a Hydra
callback. In a multirun, before any job starts (in the process that launches
them), it creates the store and the experiment once, then the parent run, and
hands the parent to the jobs (the ``FRAMEWORK_MLFLOW_PARENT`` environment
variable, set in each job's process by ``on_job_start``, so it reaches joblib
workers and submitit jobs too; a job whose config names no tracking URI gets the
parent's as ``MLFLOW_TRACKING_URI``, so a job started in another directory tracks
into the same store). Each job's logger then starts a child run (tag
``mlflow.parentRunId``) named from the job's swept overrides.

When the sweep ends, the parent gets its summary (:mod:`framework.command.sweep_summary`). A
sweep that stops early (a failed job, Ctrl-C, SIGTERM) still ends its parent:
FAILED, or KILLED when interrupted.
"""

import atexit
import json
import os
import signal
import sys
import threading
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf

from framework.command import sweep_summary
from framework.core.errors import FrameworkError
from framework.tracking.run_tags import PARENT_ENV, fitted, run_name, source_tags
from framework.tracking.spool import warn
from framework.tracking.store import TRACKING_URI_ENV, check_server, open_experiment, resolve_tracking_uri, view_line
from framework.training.secrets import Redactor, masked, redact_tree


def _select(config: DictConfig, key: str, default=None):
    try:
        value = OmegaConf.select(config, key, default=default)
    except Exception:
        return default
    return default if value is None else value


def task_overrides(config: DictConfig) -> list[str]:
    """The command-line overrides as typed: one holding an interpolation that only a job can
    resolve (``${hydra:job.num}``) is not resolved in the launching process."""
    overrides = _select(config, "hydra.overrides.task", [])
    if isinstance(overrides, ListConfig):
        return OmegaConf.to_container(overrides, resolve=False)
    return list(overrides or [])


def sweep_keys(config: DictConfig) -> list[str]:
    """The config keys a multirun varies: sweep overrides on the command line (``seed=0,1``,
    ``lr=interval(...)``) and the sweeper's ``params``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    keys: list[str] = []
    overrides = task_overrides(config)
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:
        parsed = []
    for override in parsed:
        if override.is_sweep_override():
            keys.append(override.key_or_group)
    params = _select(config, "hydra.sweeper.params", {}) or {}
    keys += [str(key) for key in params]
    return list(dict.fromkeys(keys))


def _mode(config: DictConfig, monitor: str) -> str:
    direction = _select(config, "hydra.sweeper.direction")
    if isinstance(direction, str) and direction in ("minimize", "maximize"):
        return "max" if direction == "maximize" else "min"
    from framework.training.monitoring import resolve_mode

    return resolve_mode(monitor, "auto", None)


def _secrets(config: DictConfig) -> Redactor:
    try:
        plain = OmegaConf.to_container(config, resolve=False)
        plain.pop("hydra", None)
    except Exception:
        return Redactor()
    return Redactor.from_config(plain)


def _parent_tags(config: DictConfig, keys: list[str], launch) -> tuple[dict, str]:
    """The parent run's tags, and its name: ``sweep`` and the overrides that name its runs."""
    redactor = _secrets(config)
    overrides = task_overrides(config)
    tags = source_tags(redactor, launch, overrides) | {
        "sweep": "parent",
        "sweep_keys": ",".join(keys),
        "sweeper": str(_select(config, "hydra.sweeper._target_", "")),
        "launcher": str(_select(config, "hydra.launcher._target_", "")),
        "sweep_dir": str(_select(config, "hydra.sweep.dir", "")),
        "monitor": str(_select(config, "trainer.monitor", "val_loss")),
    }
    if "seed" not in keys and _select(config, "seed") is not None:
        tags["seed"] = str(_select(config, "seed"))
    return fitted(tags), f"sweep {run_name(overrides, keys, redactor=redactor) or ''}".strip()


def _shared_study_parent(config: DictConfig, client, experiment_id, create) -> str | None:
    """For a study's sweep, the parent run every process filling that study shares (made by the
    process that created the study; reopened if an earlier process ended it); else None."""
    from framework.tuning.trial import SWEEPER_TARGET

    if _select(config, "hydra.sweeper._target_") != SWEEPER_TARGET:
        return None
    from framework.tuning.study import StudySettings, open_study, shared_parent

    settings = StudySettings.from_config(config)
    study, created = open_study(settings)

    def exists(run_id: str) -> bool:
        try:
            return client.get_run(run_id).info.experiment_id == str(experiment_id)
        except Exception:
            return False

    run_id = shared_parent(study, created, create, exists)
    if client.get_run(run_id).info.status != "RUNNING":
        client.update_run(run_id, status="RUNNING")
    client.set_tag(run_id, "study_name", settings.name)
    return run_id


class MLflowSweepCallback(Callback):
    """Parent run for a multirun (see the module docstring). Holds only picklable
    state: Hydra sends it to joblib workers."""

    def __init__(self) -> None:
        self.parent: dict | None = None
        self._done = False
        self._signalled = False
        self._uri_in_env = False
        self._previous_sigterm = None
        self._config: DictConfig | None = None

    # -- in the launching process ------------------------------------------------------

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            self._start(config)
        except FrameworkError as error:  # Hydra would turn it into a warning and start every job anyway
            print(f"error: {error}", file=sys.stderr, flush=True)
            raise SystemExit(2) from error

    def _start(self, config: DictConfig) -> None:
        logger = _select(config, "logger", {})
        launch = _select(logger, "launch_dir") or _select(config, "hydra.runtime.cwd") or os.getcwd()
        uri = resolve_tracking_uri(_select(logger, "tracking_uri"), launch)
        check_server(uri, timeout=float(_select(logger, "connect_timeout", 5.0)))
        experiment_name = _select(logger, "experiment_name", "framework")
        client, experiment_id = open_experiment(uri, experiment_name)  # once, before any job starts
        keys = sweep_keys(config)

        def create() -> str:
            tags, name = _parent_tags(config, keys, launch)
            return client.create_run(experiment_id, run_name=name or None, tags=tags).info.run_id

        run_id = _shared_study_parent(config, client, experiment_id, create) or create()
        self.parent = {
            "run_id": run_id,
            "tracking_uri": uri,
            "experiment_id": str(experiment_id),
            "experiment_name": experiment_name,
            "sweep_keys": keys,
        }
        os.environ[PARENT_ENV] = json.dumps(self.parent)
        self._uri_in_env = TRACKING_URI_ENV in os.environ
        self._config = config  # to summarize at exit a sweep that did not reach its end
        atexit.register(self._end_if_open)
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.getsignal(signal.SIGTERM)
            if self._previous_sigterm in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, self._on_sigterm)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if self.parent is None:
            return
        try:
            self.summarize(config)
            self._terminate("FINISHED")
        except Exception as exc:
            warn(
                f"could not write the sweep summary to parent run {self.parent['run_id']}: {type(exc).__name__}: {exc}"
            )
            self._end_if_open()
        finally:
            self._done = True
            os.environ.pop(PARENT_ENV, None)
            if not self._uri_in_env:
                os.environ.pop(TRACKING_URI_ENV, None)  # set by on_job_start, when jobs run in this process
            self._restore_sigterm()
        uri = self.parent["tracking_uri"]
        print(
            f"mlflow: sweep parent run {self.parent['run_id']} in experiment {self.parent['experiment_name']!r} at "
            f"{masked(uri)}\nmlflow: {view_line(uri, self.parent['experiment_id'], self.parent['run_id'])}"
        )

    # -- in each job's process -------------------------------------------------------------

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        if self.parent is not None:
            os.environ[PARENT_ENV] = json.dumps(self.parent)
            if not _select(config, "logger.tracking_uri"):
                # The default store is in the sweep's launch directory; a job a scheduler starts
                # in another directory (SLURM) tracks there too.
                os.environ[TRACKING_URI_ENV] = self.parent["tracking_uri"]

    # -- the summary ---------------------------------------------------------------------

    def summarize(self, config: DictConfig) -> dict:
        """Write the children table, the best child and the comparison plot to the parent run."""
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.parent["tracking_uri"])
        monitor = str(_select(config, "trainer.monitor", "val_loss"))
        multirun = redact_tree(OmegaConf.to_container(config, resolve=False, enum_to_str=True), _secrets(config))
        return sweep_summary.summarize(client, self.parent, monitor, _mode(config, monitor), multirun)

    # -- ending the parent ---------------------------------------------------------------

    def _terminate(self, status: str) -> None:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.parent["tracking_uri"])
        client.set_terminated(self.parent["run_id"], status)
        self._done = True

    def _end_if_open(self) -> None:
        """At exit: a sweep that did not reach its end ends its parent FAILED or KILLED."""
        if self._done or self.parent is None:
            return
        self._done = True
        try:
            from mlflow import MlflowClient

            client = MlflowClient(tracking_uri=self.parent["tracking_uri"])
            children = [child for child in sweep_summary.children(client, self.parent) if self._launched_here(child)]
            killed = self._signalled or any(r.info.status == "KILLED" for r in children)
            for child in children:  # jobs whose process was killed outright (e.g. parallel workers)
                if child.info.status == "RUNNING":
                    client.set_tag(child.info.run_id, "error_message", "the sweep stopped before this job ended")
                    client.set_terminated(child.info.run_id, "KILLED")
                    killed = True
            status = "KILLED" if killed else "FAILED"
            reason = "interrupted" if killed else "a job failed or the sweep stopped before its end"
            if self._config is not None:
                self._summarize_what_ran()
            client.set_tag(self.parent["run_id"], "error_message", reason)
            client.set_terminated(self.parent["run_id"], status)
        except Exception as exc:
            warn(f"could not end sweep parent run {self.parent['run_id']}: {type(exc).__name__}: {exc}")

    def _launched_here(self, child) -> bool:
        """Whether this process launched ``child``: its output is in this sweep's directory (a
        study's parent also has the children of other sweep processes, still running)."""
        sweep_dir = _select(self._config, "hydra.sweep.dir") if self._config is not None else None
        output = child.data.tags.get("output_dir")
        if not sweep_dir or not output:
            return True
        return Path(output).resolve().is_relative_to(Path(str(sweep_dir)).resolve())

    def _summarize_what_ran(self) -> None:
        try:
            self.summarize(self._config)
        except Exception as exc:  # ending the parent matters more than its summary
            warn(f"could not write the sweep summary to parent run {self.parent['run_id']}: {exc}")

    def _on_sigterm(self, signum, frame):
        self._signalled = True
        raise SystemExit(128 + signum)

    def _restore_sigterm(self) -> None:
        if (
            self._previous_sigterm is not None
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == self._on_sigterm
        ):
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        self._previous_sigterm = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_previous_sigterm"] = None  # handlers are not picklable and belong to the launching process
        state["_config"] = None  # the launching process summarizes
        return state
