"""The MLflow logger's arguments, checked when the logger is made, and what can be found
from them before training: the tracking URI, and whether its server answers."""

from pathlib import Path

from framework.core.errors import InvalidValueError
from framework.core.validation import check_bool, check_number, check_optional_str
from framework.tracking.registry import check_registered_name
from framework.tracking.store import check_server, resolve_tracking_uri

#: MLflow refuses longer experiment names.
LONGEST_EXPERIMENT_NAME = 500


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


class LoggerSettings:
    """The MLflow logger's arguments, each checked when the logger is made (before any data loads).

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
        self.tracking_uri = check_optional_str(owner, "tracking_uri", tracking_uri)
        self.experiment_name = _checked_experiment_name(owner, experiment_name)
        self.run_name = check_optional_str(owner, "run_name", run_name)
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
        self.output_dir = check_optional_str(owner, "output_dir", None if output_dir is None else str(output_dir))
        self.launch_dir = check_optional_str(owner, "launch_dir", None if launch_dir is None else str(launch_dir))
        self.uri: str | None = None

    def get_config(self) -> dict:
        """The arguments as given to ``__init__`` (checked): the logger's config."""
        import inspect

        names = list(inspect.signature(LoggerSettings.__init__).parameters)[1:]
        return {name: dict(self.tags) if name == "tags" else getattr(self, name) for name in names}

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
