"""What each record the logger queues does in MLflow (its ``op``), and which failures are
worth keeping it for: every operation is safe to repeat."""

import re
from pathlib import Path

from framework.tracking.params import batches

#: Error codes that mean "this request is wrong", not "the server is away": retrying cannot help.
PERMANENT_ERROR_CODES = frozenset(
    {
        "INVALID_PARAMETER_VALUE",
        "RESOURCE_DOES_NOT_EXIST",
        "RESOURCE_ALREADY_EXISTS",
        "INVALID_STATE",
        "BAD_REQUEST",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "INVALID_REQUEST",
        "ENDPOINT_NOT_FOUND",
    }
)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` means the store or server could not be reached (worth keeping and retrying)."""
    if isinstance(error, OSError):  # connection refused/reset, timeouts (requests' errors are OSErrors)
        return True
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:  # pragma: no cover
        return False
    if isinstance(error, MlflowException):
        return getattr(error, "error_code", None) not in PERMANENT_ERROR_CODES
    try:
        from sqlalchemy.exc import OperationalError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, OperationalError)  # "database is locked", a vanished file


_clients: dict[str, object] = {}


def client_for(uri: str):
    if uri not in _clients:
        from framework.tracking.store import configure_environment

        configure_environment(uri)
        from mlflow import MlflowClient

        _clients[uri] = MlflowClient(tracking_uri=uri)
    return _clients[uri]


def execute(record: dict, tracking_uri: str | None = None) -> None:
    """Carry out one record against its tracking URI (or ``tracking_uri`` when given)."""
    uri = tracking_uri or record["tracking_uri"]
    operation = OPERATIONS.get(record["op"])
    if operation is None:
        raise ValueError(f"unknown spool operation {record['op']!r}")
    operation(client_for(uri), uri, record["run_id"], record)


def _metric(entry, model_id: str | None = None):
    """A metric from ``[key, value, timestamp, step]``, optionally followed by the dataset's name
    and digest it was computed on; linked to logged model ``model_id`` when given."""
    from mlflow.entities import Metric

    key, value, timestamp, step, *dataset = entry
    name, digest = [*dataset, None, None][:2]
    return Metric(
        key, float(value), int(timestamp), int(step), model_id=model_id, dataset_name=name, dataset_digest=digest
    )


def _log_batch(client, uri, run_id, record) -> None:
    from mlflow.entities import Param, RunTag

    metrics = [_metric(entry) for entry in record.get("metrics", [])]
    params = [Param(k, v) for k, v in record.get("params", [])]
    tags = [RunTag(k, v) for k, v in record.get("tags", [])]
    for chunk_metrics, chunk_params, chunk_tags in batches(metrics, params, tags):
        client.log_batch(run_id, metrics=chunk_metrics, params=chunk_params, tags=chunk_tags, synchronous=True)


def _log_artifact(client, uri, run_id, record) -> None:
    local = Path(record["path"])
    if local.is_dir():
        client.log_artifacts(run_id, str(local), record.get("artifact_path"))
    elif local.is_file():
        client.log_artifact(run_id, str(local), record.get("artifact_path"))
    else:
        raise FileNotFoundError(f"{local}: the file to upload is gone")


def _log_model(client, uri, run_id, record) -> None:
    """The pyfunc model at the run's last step, then that step's metrics, linked to it and to their
    datasets (logged after the model, MLflow's own copy of the step's metrics finds none). A model
    refused for good still leaves the metrics in the run."""
    from framework.tracking.pyfunc import log_framework_model

    name, step = record.get("name", "model"), int(record.get("step", 0))
    try:
        model_id = log_framework_model(uri, run_id, record["model_dir"], name, step, record.get("weights"))
    except Exception as exc:
        if not is_transient(exc):
            _log_metrics(client, run_id, record.get("metrics", []), None)
        raise
    _log_metrics(client, run_id, record.get("metrics", []), model_id)


def _log_metrics(client, run_id: str, entries: list, model_id: str | None) -> None:
    for chunk, _, _ in batches([_metric(entry, model_id) for entry in entries], [], []):
        client.log_batch(run_id, metrics=chunk, synchronous=True)


def _log_inputs(client, uri, run_id, record) -> None:
    """Datasets as the run's inputs, each with its context (train, validation, test) as a tag."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    from framework.tracking.datasets import CONTEXT_TAG

    inputs = [
        DatasetInput(
            Dataset(d["name"], d["digest"], d["source_type"], d["source"], d.get("schema"), d.get("profile")),
            tags=[InputTag(CONTEXT_TAG, d["context"])],
        )
        for d in record["datasets"]
    ]
    client.log_inputs(run_id, datasets=inputs)


def _register_model(client, uri, run_id, record) -> None:
    """A new version in the Model Registry. A registry that answers with a refusal is reported
    once, not kept for later (an unreachable one is kept, like every other record)."""
    from mlflow.exceptions import MlflowException

    from framework.tracking.registry import RegistryRefused, register_model

    try:
        register_model(client, run_id, record["name"], record["register_as"])
    except MlflowException as exc:
        if exc.error_code == "TEMPORARILY_UNAVAILABLE":
            raise
        raise RegistryRefused(exc.message) from exc


def _terminate(client, uri, run_id, record) -> None:
    client.set_terminated(run_id, record["status"], end_time=record.get("end_time"))


#: What each record's ``op`` does; every operation is safe to repeat.
OPERATIONS = {
    "log_batch": _log_batch,
    "log_artifact": _log_artifact,
    "log_model": _log_model,
    "log_inputs": _log_inputs,
    "register_model": _register_model,
    "terminate": _terminate,
}


def describe(record: dict) -> str:
    op = record.get("op")
    if op == "log_batch":
        parts = [f"{len(record.get(k, []))} {k}" for k in ("metrics", "params", "tags") if record.get(k)]
        return "log " + ", ".join(parts or ["nothing"])
    if op == "log_artifact":
        return f"upload {record.get('path')}"
    if op == "log_model":
        return f"log the model {record.get('name', 'model')!r}"
    if op == "log_inputs":
        return "log the datasets"
    if op == "register_model":
        return f"register the model as {record.get('register_as')!r} (logger.register_as)"
    if op == "terminate":
        return f"mark the run {record.get('status')}"
    return str(op)


def short_error(error: BaseException, limit: int = 200) -> str:
    text = " ".join(str(error).split()).split(" [SQL: ")[0]  # SQLAlchemy appends the statement
    text = re.sub(r"\(raised as a result of Query-invoked autoflush;[^)]*\) ", "", text)
    if "database or disk is full" in text:
        return "the disk holding the store is full"
    return text if len(text) <= limit else text[: limit - 3] + "..."
