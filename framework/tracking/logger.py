"""The MLflow logger: a callback on the trainer's lifecycle hooks (see ``docs/tracking.md``).

What it logs about the run comes from the :class:`~framework.training.run.Run` handed to
``fit_start``; the MLflow run it tracks is its checkpoint state, so a resume continues it.
mlflow is imported inside the methods: a run with ``logger=none`` never loads it.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

from framework.tracking import artifacts
from framework.tracking.datasets import dataset_of
from framework.tracking.logger_settings import LoggerSettings
from framework.tracking.params import (
    MAX_TAG_VALUE_LENGTH,
    clean_key,
    config_params,
    flatten_config,
    is_number,
    truncate,
)
from framework.tracking.registry import model_name
from framework.tracking.run_tags import PRUNED_SUFFIX, fitted, job_tags, plugins_tag, run_name, source_tags
from framework.tracking.summary import run_lines, upload_line
from framework.tracking.tracked_run import known_steps, reattach, resumed_params, sweep_parent
from framework.training.callback import Callback
from framework.training.run import Run
from framework.training.secrets import Redactor, masked, redact_config

STAGING = "mlflow"
SPOOL = "spool.jsonl"


class MLflowLogger(LoggerSettings, Callback):
    """Tracks a run in MLflow (see the module docstring and ``docs/tracking.md``); its arguments
    are :class:`~framework.tracking.logger_settings.LoggerSettings`'s. A fit starts its state afresh."""

    name = "mlflow"
    run_id: str | None = None
    sender = None
    _restored: dict = {}  # replaced, never changed in place

    def _reset(self) -> None:
        self.run = Run()
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
        self._trained: set[str] = set()  # the values computed on the training split
        self.run_display_name: str | None = None
        self._model_queued = False
        self._monitor = None

    # -- checkpoints ------------------------------------------------------------

    def state_dict(self) -> dict:
        """The MLflow run this training is tracked in: a resume continues it."""
        if self.run_id is None:
            return {}
        return {"run_id": self.run_id, "tracking_uri": masked(self.uri), "experiment_id": self.experiment_id}

    def load_state_dict(self, state: dict) -> None:
        self._restored = dict(state)

    # -- hooks -----------------------------------------------------------------------

    def framework_fit_start(self, trainer, run):
        from framework.tracking.store import open_experiment

        restored = self._restored
        self._reset()  # a second fit with the same logger: a new run
        self._restored, self.run = restored, run
        client, self.experiment_id = open_experiment(self.preflight(), self.experiment_name)
        config = dict(run.config)
        self.redactor = Redactor.from_config(config)
        self._trained = {"loss", *(clean_key(metric.name) for metric in trainer.metrics)}
        self._has_secrets = bool(self.redactor.secrets) or redact_config(config) != config
        self.staging = self._staging_dir()
        tracked = reattach(client, restored, self.uri) if run.resumes else None
        self.resumed = tracked is not None
        params, tags = config_params(config, leave_out=run.output_paths), {}
        if self.resumed:
            params, tags = resumed_params(tracked, params, run.resume_from)
            tags |= job_tags(run.output_paths)
        else:
            parent = sweep_parent(self.uri, self.experiment_id)
            tags = fitted(self._tags(config, parent))
            tracked, tags = client.create_run(self.experiment_id, run_name=self._run_name(parent), tags=tags), {}
        self._start_sending(tracked)
        self._put_batch(params=params, tags=tags)
        known = known_steps(client, self.run_id) if self.resumed else set()
        for record in trainer.history.epochs:  # a resume: epochs the store does not have yet (lost to a crash?)
            if record.get("epoch") in known:
                self._logged_epochs.add(record.get("epoch"))
            else:
                self._log_epoch(record.get("epoch"), record, time.time())

    def _start_sending(self, tracked) -> None:
        from framework.tracking.sender import Sender
        from framework.tracking.spool import Spool

        self.run_id, self.run_display_name = tracked.info.run_id, tracked.info.run_name
        self.model_name = model_name(tracked.info.run_name)
        self.sender = Sender(Spool(self.staging / SPOOL), self.flush_every_seconds)
        self._log_inputs(self.run.data)
        try:
            self._start_system_metrics()
        except Exception as exc:  # an optional extra: the run goes on without it
            self._messages.append(f"could not start the system metrics: {type(exc).__name__}: {exc}")

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
        final, step = self._final_metrics(history), len(history)
        tags = {"stop_reason": history.stop_reason, "epochs_completed": str(step)}
        if history.stop_reason == "pruned":  # MLflow has no such status: the runs table shows it by the name
            tags |= {"mlflow.runName": f"{self.run_display_name}{PRUNED_SUFFIX}", "state": "PRUNED"}
        self._put_batch(tags=tags)
        self._artifacts(trainer, history)
        if not (self.log_model and self._queue_model(trainer, final)):
            self._put_batch(metrics=final)
        after = []
        if self.register_as is not None and self.log_model:  # after FINISHED: a refusal costs the run nothing
            after.append({"op": "register_model", "name": self.model_name, "register_as": self.register_as})
        self._finish("FINISHED", timeout=None, after=after)

    def _final_metrics(self, history) -> list:
        """The metrics of the fit's last step, each with the dataset it was computed on: the last epoch's
        (unless already sent) and the test split's. Sent with the model, they are linked to it."""
        final = []
        if self._pending is not None:
            epoch, logs, timestamp = self._pending
            self._pending = None
            self._logged_epochs.add(epoch)
            final = self._metrics(logs, int(timestamp * 1000), int(epoch))
        test = {k: v for k, v in (history.test or {}).items() if k != "confusion_matrix"}
        final += self._metrics(test, int(time.time() * 1000), len(history))
        return [[*metric, *dataset_of(metric[0], self._trained, self._datasets)] for metric in final]

    def _queue_model(self, trainer, final: list) -> bool:
        """The model, at the last epoch's step, with the ``final`` metrics to link to it; False when it
        could not be prepared. Its weights are the run's ``weights.npz`` when the fit wrote one."""
        weights = trainer.result_files[0] if trainer.result_files else None
        try:
            from framework.plugins import default_plugins
            from framework.tracking.pyfunc import write_model_files

            example = self.run.data.x_train if self.run.data is not None else None
            model_dir = write_model_files(trainer.model, self.staging / "model", example, weights, default_plugins())
        except Exception as exc:  # the run's metrics and status matter more than the model
            self._messages.append(f"could not prepare the model: {type(exc).__name__}: {exc}")
            return False
        model = {"op": "log_model", "model_dir": str(model_dir), "name": self.model_name, "step": len(trainer.history)}
        self._put({**model, "weights": weights and str(weights), "metrics": final})
        self._model_queued = True
        return True

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
            _, history_file = artifacts.run_arrays(trainer, self.staging / "arrays")
            self._put_artifact(history_file)
            if killed and checkpoint and self.log_checkpoints and Path(checkpoint).is_file():
                secrets = self.redactor if self._has_secrets else None
                self._put_artifact(
                    artifacts.checkpoint_copy(Path(checkpoint), self.staging / "checkpoints", secrets), "checkpoints"
                )
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

    def _run_name(self, parent) -> str | None:
        if self.run_name:
            return self.redactor.text(self.run_name)
        swept = (parent or {}).get("sweep_keys") or ()
        return run_name(self.run.overrides, swept, flatten_config(dict(self.run.config)), self.redactor)

    def _tags(self, config, parent) -> dict:
        run = self.run
        tags = source_tags(self.redactor, self.launch_dir or run.launch_dir, run.overrides)
        tags["plugins"] = plugins_tag(run.plugins)
        tags.update({f"plugin.{clean_key(dist)}": version or "-" for dist, version in run.plugins.values()})
        for label, origin in run.components.items():
            tags[f"component.{clean_key(label)}"] = f"{origin.name} ({origin.distribution} {origin.version})"
        if "seed" in config:
            tags["seed"] = str(config["seed"])
        if run.job_number is not None:
            tags["job_num"] = str(run.job_number)
        if run.trial is not None:
            tags["study_name"], tags["trial_number"] = run.trial.study, str(run.trial.number)
        tags.update(job_tags(run.output_paths))  # per job: tags, not params
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
        self._put_batch(metrics=self._metrics(logs, ms, int(epoch)))

    def _metrics(self, values: dict, ms: int, step: int) -> list:
        """Metric records, the monitored value first: MLflow's compare view offers a run's first metric."""
        keys = [k for k, v in values.items() if k != "epoch" and is_number(v)]
        keys.sort(key=lambda k: k != self.run.monitor)
        return [[clean_key(k), float(values[k]), ms, step] for k in keys]

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

    def _artifacts(self, trainer, history) -> None:
        """The run's files and, for a classification, its confusion matrix (as CSV and as a figure)."""
        matrix = (history.test or {}).get("confusion_matrix")
        staging, redactor, files = self.staging, self.redactor, []
        try:
            files += artifacts.config_files(
                staging, self.run.config, self.output_dir and Path(self.output_dir), redactor
            )
            files += [(path, None) for path in artifacts.run_arrays(trainer, staging / "arrays")]
            if self.log_checkpoints:
                others = [callback for callback in trainer.callbacks if callback is not self]
                files += artifacts.component_files(others, staging, redactor if self._has_secrets else None)
            if matrix is not None:
                files.append((artifacts.confusion_matrix_csv(matrix, staging / "confusion_matrix.csv"), None))
                if self.log_plots:
                    from framework.tracking.plots import confusion_matrix_svg

                    files.append((confusion_matrix_svg(matrix, staging / "plots" / "confusion_matrix.svg"), "plots"))
        except Exception as exc:  # a failed file must not lose the run's status or metrics
            self._messages.append(f"could not prepare all artifacts: {type(exc).__name__}: {exc}")
        for path, folder in files:
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
        """A run that stops without a summary (``at_once``: stopped, failed) prints where it is (its id, to
        resume it from the store), on standard error when records wait in the spool; with none, the staged
        files go (a finished run's summary is printed by the command)."""
        kept = self.sender.pending_in_spool
        if at_once:
            print("\n".join(self.summary_lines()), file=sys.stderr if kept else sys.stdout, flush=True)
        if not kept and self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)  # everything delivered: no second copy kept
