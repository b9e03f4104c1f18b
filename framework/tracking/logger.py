"""The MLflow logger: a callback on the trainer's lifecycle hooks.

``fit_start`` opens the store and experiment, starts a run (or, resuming from a
checkpoint, reattaches to the run the checkpoint names) and keeps the MLflow run's
id, store and experiment as its checkpoint state, so every checkpoint carries it.
What it logs about the run (config, overrides, components) comes from the
:class:`~framework.training.run.Run` handed to ``fit_start``. Each epoch's values are logged with
``step = epoch``; ``fit_end`` logs the test results, the artifacts and the
pyfunc model (with the final metrics linked to it), ends the run FINISHED and then
registers the model when asked; ``exception`` ends it FAILED (with the
error's type and message as tags) or KILLED (Ctrl-C, SIGTERM).

mlflow is imported inside the methods, never when this module is imported: a
run with ``logger=none`` never loads it.
"""

import getpass
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from framework.core.errors import InvalidValueError
from framework.core.validation import check_bool, check_number
from framework.tracking import figures
from framework.tracking.params import (
    MAX_TAG_VALUE_LENGTH,
    clean_key,
    config_params,
    flatten_config,
    format_value,
    is_number,
    truncate,
)
from framework.tracking.registry import check_registered_name, model_name
from framework.tracking.repair import process_tags
from framework.tracking.store import check_server, resolve_tracking_uri
from framework.tracking.summary import run_lines, upload_line
from framework.training.callback import Callback
from framework.training.run import Run
from framework.training.secrets import Redactor, masked, redact_config, write_yaml

#: Set by the sweep callback for the jobs of a multirun: JSON with the parent run and the swept keys.
PARENT_ENV = "FRAMEWORK_MLFLOW_PARENT"
STAGING = "mlflow"
SPOOL = "spool.jsonl"
#: MLflow refuses longer experiment names.
LONGEST_EXPERIMENT_NAME = 500
STALE_ON_RESUME = ("error_type", "error_message", "resume_checkpoint")


def _check_optional_str(owner, name, value):
    if value is not None and not isinstance(value, str):
        raise InvalidValueError(f"{owner}: {name} must be a string or null, got {value!r}", name)
    return value


def check_system_metrics(owner: str, value) -> bool:
    """``system_metrics``; true needs psutil (MLflow samples the machine with it)."""
    import importlib.util

    if check_bool(owner, "system_metrics", value) and importlib.util.find_spec("psutil") is None:
        raise InvalidValueError(
            f"{owner}: system_metrics=true needs psutil, which is not installed; "
            "pip install psutil (or: pip install 'framework[system-metrics]'), or set system_metrics=false",
            "system_metrics",
        )
    return bool(value)


def override_key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def git_commit(directory) -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def command_line() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(os.path.join("framework", "train.py")):
        return shlex.join(["python", "-m", "framework.train", *argv[1:]])
    return shlex.join(argv) if argv else ""


def _checked_experiment_name(owner: str, experiment_name) -> str:
    """A name MLflow takes, and that is safe to print."""
    if not isinstance(experiment_name, str) or not experiment_name.strip():
        raise InvalidValueError(
            f"{owner}: experiment_name must be a non-empty string, got {experiment_name!r}", "experiment_name"
        )
    if not experiment_name.isprintable():
        raise InvalidValueError(
            f"{owner}: experiment_name holds a control character, which would reach every terminal that "
            "lists the experiments; give a name of printable characters",
            "experiment_name",
        )
    if len(experiment_name) > LONGEST_EXPERIMENT_NAME:
        raise InvalidValueError(
            f"{owner}: experiment_name is {len(experiment_name)} characters long and MLflow takes at most "
            f"{LONGEST_EXPERIMENT_NAME}; give a shorter name",
            "experiment_name",
        )
    return experiment_name


class MLflowLogger(Callback):
    """Tracks a run in MLflow (see the module docstring and ``docs/tracking.md``).

    ``tracking_uri`` null means ``$MLFLOW_TRACKING_URI``, else
    ``sqlite:///<launch dir>/mlflow.db``. ``output_dir`` is where the logger stages
    files and keeps its spool (``<output_dir>/mlflow/``; a temporary directory when null).
    ``flush_every_seconds``: metrics are sent by a background thread at most this
    often (0: after every epoch). ``connect_timeout``: seconds per try when checking
    that a tracking server answers at the start. ``log_datasets``: the run's data
    splits as MLflow dataset inputs. ``system_metrics``: CPU, memory, disk and network
    sampled every ``system_metrics_interval`` seconds by MLflow's monitor (needs psutil).
    ``register_as``: register the model as a new version of this registered model.
    """

    name = "mlflow"

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str = "framework",
        run_name: str | None = None,
        tags: dict | None = None,
        log_model: bool = True,
        log_checkpoints: bool = True,
        log_plots: bool = True,
        log_datasets: bool = True,
        system_metrics: bool = False,
        system_metrics_interval: float = 10.0,
        register_as: str | None = None,
        flush_every_seconds: float = 5.0,
        connect_timeout: float = 5.0,
        output_dir: str | None = None,
        launch_dir: str | None = None,
    ):
        owner = "mlflow logger"
        self.tracking_uri = _check_optional_str(owner, "tracking_uri", tracking_uri)
        self.experiment_name = _checked_experiment_name(owner, experiment_name)
        self.run_name = _check_optional_str(owner, "run_name", run_name)
        if tags is not None and not isinstance(tags, dict):
            raise InvalidValueError(f"{owner}: tags must be a mapping of tag names to values, got {tags!r}", "tags")
        self.tags = dict(tags or {})
        self.log_model = check_bool(owner, "log_model", log_model)
        self.log_checkpoints = check_bool(owner, "log_checkpoints", log_checkpoints)
        self.log_plots = check_bool(owner, "log_plots", log_plots)
        self.log_datasets = check_bool(owner, "log_datasets", log_datasets)
        self.system_metrics = check_system_metrics(owner, system_metrics)
        self.system_metrics_interval = check_number(
            owner, "system_metrics_interval", system_metrics_interval, low=0, low_open=True
        )
        self.register_as = check_registered_name(owner, register_as)
        if self.register_as is not None and not self.log_model:
            raise InvalidValueError(
                f"{owner}: register_as={self.register_as!r} needs the model logged; set log_model=true "
                "or register_as=null",
                "register_as",
            )
        self.flush_every_seconds = check_number(owner, "flush_every_seconds", flush_every_seconds, low=0)
        self.connect_timeout = check_number(owner, "connect_timeout", connect_timeout, low=0, low_open=True)
        self.output_dir = _check_optional_str(owner, "output_dir", None if output_dir is None else str(output_dir))
        self.launch_dir = _check_optional_str(owner, "launch_dir", None if launch_dir is None else str(launch_dir))
        self._reset()

    def _reset(self) -> None:
        self.run = Run()
        self._restored: dict = {}
        self.uri: str | None = None
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.resumed = False
        self.status: str | None = None
        self.sender = None
        self.staging: Path | None = None
        self.redactor = Redactor()
        self._pending = None
        self._logged_epochs: set[int] = set()
        self._has_secrets = False
        self._closed = False
        self._messages: list[str] = []
        self.model_name: str | None = None
        self._datasets: dict[str, tuple[str, str]] = {}  # split -> (dataset name, digest)
        self._last_epoch: list = []  # the last logged epoch's metrics, as logged
        self._model_queued = False
        self._monitor = None

    def get_config(self) -> dict:
        return {
            "tracking_uri": self.tracking_uri,
            "experiment_name": self.experiment_name,
            "run_name": self.run_name,
            "tags": dict(self.tags),
            "log_model": self.log_model,
            "log_checkpoints": self.log_checkpoints,
            "log_plots": self.log_plots,
            "log_datasets": self.log_datasets,
            "system_metrics": self.system_metrics,
            "system_metrics_interval": self.system_metrics_interval,
            "register_as": self.register_as,
            "flush_every_seconds": self.flush_every_seconds,
            "connect_timeout": self.connect_timeout,
            "output_dir": self.output_dir,
            "launch_dir": self.launch_dir,
        }

    # -- before training -------------------------------------------------------------

    def preflight(self) -> str:
        """Resolve the tracking URI and, for a server, check it answers (fails in seconds
        with :class:`~framework.tracking.store.TrackingServerUnavailable`). No mlflow import."""
        if self.uri is None:
            uri = resolve_tracking_uri(self.tracking_uri, self.launch_dir)
            check_server(uri, timeout=self.connect_timeout)
            self.uri = uri
        return self.uri

    def output_dirs(self) -> dict[str, Path]:
        return {"output_dir": Path(self.output_dir)} if self.output_dir else {}

    def state_dict(self) -> dict:
        """The MLflow run this training is tracked in: a resume continues it."""
        if self.run_id is None:
            return {}
        return {"run_id": self.run_id, "tracking_uri": masked(self.uri), "experiment_id": self.experiment_id}

    def load_state_dict(self, state: dict) -> None:
        self._restored = dict(state)

    # -- hooks -----------------------------------------------------------------------

    def framework_fit_start(self, trainer, run):
        from framework.tracking.sender import Sender, Spool
        from framework.tracking.store import open_experiment

        if self.sender is not None:  # a second fit with the same logger: a new run
            restored = self._restored
            self._reset()
            self._restored = restored
        self.run = run
        if self.log_plots:
            figures.start()  # its start overlaps MLflow's import and the training
        uri = self.preflight()
        client, self.experiment_id = open_experiment(uri, self.experiment_name)
        config = dict(run.config)
        self.redactor = Redactor.from_config(config)
        self._has_secrets = bool(self.redactor.secrets) or redact_config(config) != config
        self.staging = self._staging_dir()
        tracked = self._reattach(client) if run.resumes else None
        parent = self._parent()
        tags = self._tags(config, parent)
        if tracked is None:
            tracked = client.create_run(
                self.experiment_id,
                run_name=self._run_name(parent),
                tags={k: truncate(str(v), MAX_TAG_VALUE_LENGTH) for k, v in tags.items()},
            )
            tags = {}
        self.run_id = tracked.info.run_id
        self.model_name = model_name(tracked.info.run_name)
        self.sender = Sender(Spool(self.staging / SPOOL), self.flush_every_seconds)
        self._log_inputs(run.data)
        try:
            self._start_system_metrics()
        except Exception as exc:  # an optional extra: the run goes on without it
            self._messages.append(f"could not start the system metrics: {type(exc).__name__}: {exc}")
        params = config_params(config, leave_out=run.output_paths)
        if self.resumed:
            logged = tracked.data.params
            changed = {k: [logged[k], v] for k, v in params.items() if k in logged and logged[k] != v}
            params = {k: v for k, v in params.items() if k not in logged}
            if changed:  # params cannot change in MLflow; say what the resumed part ran with
                tags["resume_changed_params"] = json.dumps(changed)
            tags["resumed_from"] = str(run.resume_from.path)
            tags["resume_count"] = str(int(tracked.data.tags.get("resume_count", "0")) + 1)
        self._put_batch(params=params, tags=tags)
        if len(trainer.history):  # a resume: epochs the store does not have yet (e.g. lost to a crash)
            known = self._known_steps(client) if self.resumed else set()
            for record in trainer.history.epochs:
                if record.get("epoch") not in known:
                    self._log_epoch(record.get("epoch"), record, time.time())
                else:
                    self._logged_epochs.add(record.get("epoch"))

    def framework_epoch_start(self, trainer, epoch):
        self._materialize()

    def framework_epoch_end(self, trainer, epoch, logs):
        # Logged when the next epoch starts (or at the end), so values that later
        # epoch_end hooks add to ``logs`` are logged too.
        self._materialize()
        self._pending = (epoch, logs, time.time())

    def framework_fit_end(self, trainer, history):
        if self.sender is None or self._closed:
            return
        self._materialize()
        test = {k: v for k, v in (history.test or {}).items() if k != "confusion_matrix" and is_number(v)}
        now, step = int(time.time() * 1000), len(history)
        test_metrics = [[clean_key(k), float(v), now, step] for k, v in test.items()]
        self._put_batch(metrics=test_metrics, tags={"stop_reason": history.stop_reason, "epochs_completed": str(step)})
        if self.log_model:
            self._queue_model(trainer, test_metrics)
        self.sender.send_now()  # the metrics and the model are stored while the figures are drawn
        self._artifacts(trainer, history)
        after = []
        if self.register_as is not None and self.log_model:  # after FINISHED: a refusal costs the run nothing
            after.append({"op": "register_model", "name": self.model_name, "register_as": self.register_as})
        self._finish("FINISHED", timeout=None, after=after)

    def _queue_model(self, trainer, test_metrics: list) -> None:
        try:
            from framework.tracking.pyfunc import write_model_files

            example = self.run.data.x_train if self.run.data is not None else None
            model_dir = write_model_files(trainer.model, self.staging / "model", example)
            linked = self._linked_metrics(trainer, test_metrics)
            self._put({"op": "log_model", "model_dir": str(model_dir), "name": self.model_name, "metrics": linked})
            self._model_queued = True
        except Exception as exc:  # the run's metrics and status matter more than the model
            self._messages.append(f"could not prepare the model: {type(exc).__name__}: {exc}")

    def framework_exception(self, trainer, error):
        if self.sender is None:
            return
        if self._closed:  # interrupted while finishing: do not wait any longer
            self.sender.close(timeout=5)
            self._report(at_once=True)
            return
        from framework.training.interrupts import Interrupted

        self._materialize()
        # Epochs that ended but whose epoch_end never reached this logger (a hook before it failed).
        for record in trainer.history.epochs:
            if record.get("epoch") not in self._logged_epochs:
                self._log_epoch(record.get("epoch"), record, time.time())
        killed = isinstance(error, Interrupted | KeyboardInterrupt)
        tags = {
            "error_type": type(error).__name__,
            "error_message": truncate(self.redactor.text(str(error)) or type(error).__name__, MAX_TAG_VALUE_LENGTH),
            "stop_reason": "interrupted" if killed else "failed",
            "epochs_completed": str(len(trainer.history)),
        }
        checkpoint = getattr(error, "checkpoint", None)
        if killed and checkpoint:
            tags["resume_checkpoint"] = str(checkpoint)
        self._put_batch(tags=tags)
        try:
            from framework.training.trainer import save_run_arrays

            arrays = self.staging / "arrays"
            arrays.mkdir(parents=True, exist_ok=True)
            _, history_file = save_run_arrays(trainer, arrays)
            self._put_artifact(history_file)
            if killed and checkpoint and self.log_checkpoints and Path(checkpoint).is_file():
                self._put_artifact(self._checkpoint_copy(Path(checkpoint)), "checkpoints")
        except Exception as exc:  # the error being reported matters more
            self._messages.append(f"could not stage the artifacts: {exc}")
        self._finish("KILLED" if killed else "FAILED", timeout=15)

    # -- what the run prints at its end -----------------------------------------------------------

    def summary_lines(self) -> list[str]:
        """Where the run was tracked and how to open it; last, what waits in the spool and how to send it."""
        if self.run_id is None:
            return []
        kept, spool = self.sender.pending_in_spool, self.sender.spool.path
        status = self.status or "RUNNING"
        lines = run_lines(self.uri, self.experiment_name, self.experiment_id, self.run_id, status, kept, spool)
        if self._model_queued and not kept:
            delivered = self.register_as and not self.sender.permanent_errors
            registered = f", registered as {self.register_as!r}" if delivered else ""
            lines.append(f"mlflow: model runs:/{self.run_id}/{self.model_name}{registered}")
        lines += [f"mlflow: {message}" for message in self._messages]
        return lines + ([upload_line(self.uri, spool)] if kept else [])

    # -- internals ---------------------------------------------------------------------

    def _staging_dir(self) -> Path:
        if self.output_dir:
            directory = Path(self.output_dir) / STAGING
        else:
            directory = Path(tempfile.mkdtemp(prefix="framework-mlflow-"))
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def _reattach(self, client):
        """The run the checkpoint we resume from was tracked in, when it is in this store."""
        restored = self._restored
        if not restored.get("run_id") or restored.get("tracking_uri") != masked(self.uri):
            return None
        try:
            run = client.get_run(restored["run_id"])
        except Exception:
            return None
        if run.info.lifecycle_stage == "deleted":
            return None
        client.update_run(run.info.run_id, status="RUNNING")
        for key in STALE_ON_RESUME:  # left by the interruption this run resumes from
            if key in run.data.tags:
                client.delete_tag(run.info.run_id, key)
        self.resumed = True
        return run

    def _known_steps(self, client) -> set:
        try:
            return {metric.step for metric in client.get_metric_history(self.run_id, "loss")}
        except Exception:
            return set()

    def _parent(self) -> dict | None:
        raw = os.environ.get(PARENT_ENV)
        if not raw:
            return None
        try:
            parent = json.loads(raw)
        except json.JSONDecodeError:
            return None
        if parent.get("tracking_uri") != self.uri or str(parent.get("experiment_id")) != str(self.experiment_id):
            return None  # this job tracks elsewhere than its sweep: no link
        return parent

    def _run_name(self, parent) -> str | None:
        if self.run_name:
            return self.redactor.text(self.run_name)
        overrides = self.run.overrides
        keys = set((parent or {}).get("sweep_keys") or [])
        if keys:
            chosen = [o for o in overrides if override_key(o) in keys]
        else:
            chosen = [o for o in overrides if not override_key(o).startswith(("logger", "hydra"))]
        values = flatten_config(dict(self.run.config))
        name = ",".join(self.redactor.override(_as_named(o, values)) for o in chosen)
        return name[:250] or None

    def _tags(self, config, parent) -> dict:
        import framework
        from framework.plugins import default_plugins

        tags = {
            "framework_version": framework.__version__,
            "mlflow.source.type": "LOCAL",
            "mlflow.source.name": "framework.train"
            if "framework.train" in command_line()
            else (sys.argv[:1] or [""])[0],
            "mlflow.user": user_name(),
            "command": self.redactor.text(command_line()),
            **process_tags(),  # so `python -m framework.tracking repair` can tell a run whose process died
        }
        try:
            origins = default_plugins().origins
        except Exception:
            origins = {}
        plugins = {name: f"{o.distribution} {o.version}".strip() for name, o in origins.items()}
        tags["plugins"] = json.dumps(plugins)
        for origin in origins.values():
            tags[f"plugin.{clean_key(origin.distribution)}"] = origin.version or "-"
        for label, origin in self.run.components.items():
            tags[f"component.{clean_key(label)}"] = f"{origin.name} ({origin.distribution} {origin.version})"
        commit = git_commit(self.launch_dir or self.run.launch_dir or Path.cwd())
        if commit:
            tags["mlflow.source.git.commit"] = commit
            tags["git_commit"] = commit
        if "seed" in config:
            tags["seed"] = str(config["seed"])
        if self.run.overrides:
            tags["overrides"] = " ".join(shlex.quote(self.redactor.override(o)) for o in self.run.overrides)
        if self.run.job_number is not None:
            tags["job_num"] = str(self.run.job_number)
        if self.run.trial is not None:
            tags["study_name"], tags["trial_number"] = self.run.trial.study, str(self.run.trial.number)
        tags.update({key: str(path) for key, path in self.run.output_paths.items()})  # per job: tags, not params
        if parent:
            tags["mlflow.parentRunId"] = parent["run_id"]
        tags.update({clean_key(k): self.redactor.text(str(v)) for k, v in self.tags.items()})
        return tags

    def _put(self, record: dict) -> None:
        self.sender.put({"tracking_uri": self.uri, "run_id": self.run_id, **record})

    def _put_batch(self, metrics=(), params=None, tags=None) -> None:
        record = {"op": "log_batch"}
        if metrics:
            record["metrics"] = list(metrics)
        if params:
            record["params"] = [[k, v] for k, v in params.items()]
        if tags:
            record["tags"] = [[clean_key(k), truncate(str(v), MAX_TAG_VALUE_LENGTH)] for k, v in tags.items()]
        if len(record) > 1:
            self._put(record)

    def _put_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self._put({"op": "log_artifact", "path": str(path), "artifact_path": artifact_path})

    def _log_epoch(self, epoch, logs, timestamp) -> None:
        if epoch is None:
            return
        self._logged_epochs.add(epoch)
        ms = int(timestamp * 1000)
        metrics = [[clean_key(k), float(v), ms, int(epoch)] for k, v in logs.items() if k != "epoch" and is_number(v)]
        self._put_batch(metrics=metrics)
        self._last_epoch = metrics

    def _log_inputs(self, data) -> None:
        """The run's data splits as dataset inputs (when the run knows its data)."""
        if data is None or not self.log_datasets:
            return
        from framework.tracking.datasets import split_inputs

        try:
            datasets = split_inputs(data)
        except Exception as exc:  # an optional extra: the run goes on without it
            self._messages.append(f"could not describe the datasets: {type(exc).__name__}: {exc}")
            return
        self._datasets = {d["context"]: (d["name"], d["digest"]) for d in datasets}
        if datasets:
            self._put({"op": "log_inputs", "datasets": datasets})

    def _linked_metrics(self, trainer, test: list) -> list:
        """The final metrics (the last epoch's, the test split's), each with the dataset it was
        computed on, to be linked to the logged model (the same timestamps as logged: MLflow
        keeps one copy in the run)."""
        trained = {"loss", *(clean_key(m.name) for m in trainer.metrics)}
        step = len(trainer.history)
        final = [m for m in self._last_epoch if m[3] == step] + test
        linked = []
        for key, value, timestamp, at in final:
            split = "test" if key.startswith("test_") else "validation" if key.startswith("val_") else None
            split = split or ("train" if key in trained else None)
            linked.append([key, value, timestamp, at, *self._datasets.get(split, ())])
        return linked

    def _start_system_metrics(self) -> None:
        if not self.system_metrics:
            return
        import logging

        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)  # no start/stop notes
        self._monitor = SystemMetricsMonitor(
            self.run_id, sampling_interval=self.system_metrics_interval, resume_logging=self.resumed,
            tracking_uri=self.uri,
        )  # fmt: skip
        self._monitor.start()

    def _stop_system_metrics(self) -> None:
        if self._monitor is not None:
            monitor, self._monitor = self._monitor, None
            monitor.finish()  # logs what it sampled since its last batch; never raises

    def _materialize(self) -> None:
        if self._pending is not None:
            epoch, logs, timestamp = self._pending
            self._pending = None
            self._log_epoch(epoch, logs, timestamp)

    def _checkpoint_copy(self, path: Path) -> Path:
        """The checkpoint itself, or a copy with the config's secrets redacted."""
        if not self._has_secrets:
            return path
        from framework.tracking.artifacts import redacted_checkpoint

        return redacted_checkpoint(path, self.staging / "checkpoints" / path.name, self.redactor)

    def _artifacts(self, trainer, history) -> None:
        matrix = (history.test or {}).get("confusion_matrix")
        drawing = figures.Drawing(history.epochs, matrix, self.staging / "plots") if self.log_plots else None
        try:
            self._config_artifacts()
            self._array_artifacts(trainer)
            if self.log_checkpoints:
                self._component_artifacts(trainer)
            if matrix is not None:
                from framework.tracking.artifacts import confusion_matrix_csv

                self._put_artifact(confusion_matrix_csv(matrix, self.staging / "confusion_matrix.csv"))
        except Exception as exc:  # a failed file must not lose the run's status or metrics
            self._messages.append(f"could not prepare all artifacts: {type(exc).__name__}: {exc}")
        if drawing is not None:  # collected whatever failed above: the answer is this run's
            self._figure_artifacts(drawing)

    def _figure_artifacts(self, drawing: "figures.Drawing") -> None:
        try:
            written = drawing.result(before_drawing_here=self.sender.flush)
        except Exception as exc:  # a failed plot must not lose the run's status or metrics
            self._messages.append(f"could not draw the figures: {type(exc).__name__}: {exc}")
            return
        if drawing.failure:
            self._messages.append(f"the figure process failed ({drawing.failure}); the figures were drawn here")
        if written:
            self._put_artifact(self.staging / "plots", "plots")

    def _config_artifacts(self) -> None:
        from framework.tracking import artifacts

        config = redact_config(dict(self.run.config))
        self._put_artifact(write_yaml(config, self.staging / "config" / "config.yaml", self.redactor), "config")
        hydra_dir = artifacts.hydra_files(self.output_dir and Path(self.output_dir), self.staging, self.redactor)
        if hydra_dir is not None:
            self._put_artifact(hydra_dir, "config/hydra")

    def _array_artifacts(self, trainer) -> None:
        from framework.training.trainer import save_run_arrays

        arrays = self.staging / "arrays"
        arrays.mkdir(parents=True, exist_ok=True)
        for path in save_run_arrays(trainer, arrays):
            self._put_artifact(path)

    def _component_artifacts(self, trainer) -> None:
        """The files each callback offers (checkpoints, ...), checkpoints redacted when the config has secrets."""
        from framework.tracking import artifacts

        for callback in trainer.callbacks:
            if callback is self:
                continue
            for folder, paths in callback.artifacts().items():
                for path in paths:
                    if self._has_secrets and path.suffix == ".npz":
                        path = artifacts.redacted_checkpoint(path, self.staging / folder / path.name, self.redactor)
                    self._put_artifact(path, folder)

    def _finish(self, status: str, timeout: float | None, after: list[dict] = ()) -> None:
        self._stop_system_metrics()
        self._put({"op": "terminate", "status": status, "end_time": int(time.time() * 1000)})
        for record in after:
            self._put(record)
        self.status = status
        self._closed = True
        self.sender.close(timeout=timeout)
        self._report(at_once=status != "FINISHED")

    def _report(self, at_once: bool) -> None:
        """With records left in the spool, a run that stops without a summary (``at_once``) prints it on
        standard error (a finished run's summary says it); with none, the staged files go."""
        if self.sender.pending_in_spool:
            if at_once:
                print("\n".join(self.summary_lines()), file=sys.stderr, flush=True)
        elif self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)  # everything delivered: no second copy kept


def _as_named(override: str, values: dict) -> str:
    """``key=value`` with the value as its param shows it (``[128, 64]``), floats to 4 significant digits."""
    key = override_key(override)
    if key not in values:
        return override
    value = values[key]
    text = f"{value:.4g}" if isinstance(value, float) else format_value(value)
    return f"{key}={text}"


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
