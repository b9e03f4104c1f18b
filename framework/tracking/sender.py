"""Sending to MLflow without slowing training down or losing anything.

Everything the logger records becomes a *record* (a JSON-able dict with an
``op``). The training thread only appends records to a queue; a background
thread sends them, at most every ``interval`` seconds (and at once when asked to
flush), so an epoch pays for a list append, not a database write or an HTTP round
trip.

When a send fails because the store or server cannot be reached, that record
and everything after it go to the *spool*: a JSON-lines file on disk. Training
goes on. Each later flush first replays the spool, so what was kept is delivered
as soon as the server is back, in order. Whatever is still in the spool when the
run ends stays there, and ``python -m framework.tracking upload <spool>`` sends
it later. Every operation is safe to repeat (MLflow ignores a metric logged
twice with the same step, time and value; params are only re-sent with the same
value; the model is logged once per run).
"""

import json
import re
import sys
import threading
import time
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


class Spool:
    """The JSON-lines file holding what could not be sent yet. Its first line is a header
    that says the framework wrote it: a tool deletes only a file it can prove it made."""

    HEADER = {"framework_spool": 1}

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def append(self, records: list[dict]) -> None:
        if not records:
            return
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                if handle.tell() == 0:
                    handle.write(json.dumps(self.HEADER) + "\n")
                for record in records:
                    handle.write(json.dumps(record) + "\n")
                handle.flush()
                import os

                os.fsync(handle.fileno())

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        records = []
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:  # a line cut by a crash: the rest is still good
                        continue
        return [record for record in records if record != self.HEADER]

    def is_ours(self) -> bool:
        """Whether the file starts with the spool header (an empty spool is removed at once)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                return json.loads(handle.readline() or "null") == self.HEADER
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return False

    def replace(self, records: list[dict]) -> None:
        """Keep only ``records`` (an empty list removes the file)."""
        with self._lock:
            if not records:
                self.path.unlink(missing_ok=True)
                return
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(self.HEADER) + "\n")
                for record in records:
                    handle.write(json.dumps(record) + "\n")
            tmp.replace(self.path)

    def __len__(self) -> int:
        return len(self.read())


# -- the operations ------------------------------------------------------------------

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
    """The pyfunc model, then the run's final metrics again, linked to it (MLflow ignores the
    run's copy of a metric logged twice; the model's copy is what the Models tab ranks by)."""
    from framework.tracking.pyfunc import log_framework_model

    model_id = log_framework_model(uri, run_id, record["model_dir"], name=record.get("name", "model"))
    linked = [_metric(entry, model_id) for entry in record.get("metrics", [])]
    for chunk, _, _ in batches(linked, [], []):
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


def _update_run(client, uri, run_id, record) -> None:
    client.update_run(run_id, status=record.get("status"))


#: What each record's ``op`` does; every operation is safe to repeat.
OPERATIONS = {
    "log_batch": _log_batch,
    "log_artifact": _log_artifact,
    "log_model": _log_model,
    "log_inputs": _log_inputs,
    "register_model": _register_model,
    "terminate": _terminate,
    "update_run": _update_run,
}


def coalesced_groups(records: list[dict]) -> list[list[dict]]:
    """``records`` in groups sent as one record each (:func:`merged`): each run of consecutive
    ``log_batch`` records for the same run, one store transaction instead of one per epoch (split
    again into MLflow's batch limits when sent). A record whose param or tag keys its group already
    has starts a new group; every other record is a group of its own."""
    groups: list[list[dict]] = []
    for record in records:
        if groups and _mergeable(groups[-1], record):
            groups[-1].append(record)
        else:
            groups.append([record])
    return groups


def merged(group: list[dict]) -> dict:
    """One record for a group of :func:`coalesced_groups` (the record itself for a group of one)."""
    if len(group) == 1:
        return group[0]
    joined = {
        key: [entry for record in group for entry in record.get(key, [])] for key in ("metrics", "params", "tags")
    }
    return {**group[0], **{key: entries for key, entries in joined.items() if entries}}


def _mergeable(group: list[dict], record: dict) -> bool:
    first = group[0]
    if not (first.get("op") == record.get("op") == "log_batch"):
        return False
    run = (first.get("tracking_uri"), first.get("run_id"))
    if first.get("run_id") is None or run != (record.get("tracking_uri"), record.get("run_id")):
        return False
    for key in ("params", "tags"):
        taken = {entry[0] for member in group for entry in member.get(key, [])}
        if taken & {entry[0] for entry in record.get(key, [])}:
            return False
    return True


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


def _short(error: BaseException, limit: int = 200) -> str:
    text = " ".join(str(error).split()).split(" [SQL: ")[0]  # SQLAlchemy appends the statement
    text = re.sub(r"\(raised as a result of Query-invoked autoflush;[^)]*\) ", "", text)
    if "database or disk is full" in text:
        return "the disk holding the store is full"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def warn(message: str) -> None:
    print(f"mlflow: {message}", file=sys.stderr, flush=True)


def replay(spool: Spool, tracking_uri: str | None = None, on_permanent=warn, execute=execute) -> tuple[int, int]:
    """Send the spool's records in order. Stops at the first transient failure and keeps
    that record and the rest; records refused for good are reported and dropped.
    Returns ``(sent, left)``."""
    records = spool.read()
    sent = 0
    for index, record in enumerate(records):
        try:
            execute(record, tracking_uri) if tracking_uri else execute(record)
        except Exception as exc:
            if is_transient(exc):
                spool.replace(records[index:])
                return sent, len(records) - index
            on_permanent(f"could not {describe(record)}: {type(exc).__name__}: {_short(exc)}")
            continue
        sent += 1
    spool.replace([])
    return sent, 0


class Sender:
    """The background thread that delivers records (see the module docstring)."""

    def __init__(self, spool: Spool, interval: float = 5.0, execute=execute):
        self.spool = spool
        self.interval = float(interval)
        self._execute = execute
        self._queue: list[dict] = []
        self._inflight: list[dict] = []
        self._cond = threading.Condition()
        self._last_send = float("-inf")
        self._flush_requested = False
        self._closing = False
        self._abandoned = False
        self._busy = False
        #: True from the first failed send until everything kept has been delivered.
        self.offline = False
        #: The error that made the sender go offline (for messages).
        self.last_error: BaseException | None = None
        #: How many times sending failed and records went to the spool.
        self.outages = 0
        self.permanent_errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="framework-mlflow-sender", daemon=True)
        self._thread.start()

    # -- the training thread's side ---------------------------------------------

    def put(self, record: dict) -> None:
        with self._cond:
            self._queue.append(record)
            if time.monotonic() - self._last_send >= self.interval:
                self._cond.notify()

    def send_now(self) -> None:
        """Start sending everything queued, without waiting for it."""
        with self._cond:
            self._flush_requested = True
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued now; wait until it is delivered or spooled. False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_requested = True
            self._cond.notify_all()
            while self._queue or self._busy or self._flush_requested:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float | None = None) -> None:
        """Deliver (or spool) everything and stop the thread. After ``timeout`` seconds,
        whatever is not confirmed sent is written to the spool and the thread abandoned."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            with self._cond:
                self._abandoned = True
                left, self._queue = self._inflight + self._queue, []
                self._inflight = []
            self.spool.append(left)
            self.offline = True

    @property
    def pending_in_spool(self) -> int:
        return len(self.spool) if self.spool.exists() else 0

    # -- the sending thread -------------------------------------------------------

    def _due(self) -> bool:
        return time.monotonic() - self._last_send >= self.interval

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._closing or self._flush_requested or (self._queue and self._due())):
                    wait = None if not self._queue else max(0.0, self.interval - (time.monotonic() - self._last_send))
                    self._cond.wait(wait)
                batch, self._queue = self._queue, []
                self._inflight = list(batch)
                self._busy = True
                self._flush_requested = False
                closing = self._closing
            try:
                self._deliver(batch)
            except Exception as exc:  # never let the thread die: keep what was not sent
                self._spool_rest(batch, exc)
            with self._cond:
                self._busy = False
                self._inflight = []
                self._last_send = time.monotonic()
                self._cond.notify_all()
                if self._abandoned or (closing and not self._queue):
                    return

    def _spool_rest(self, records: list[dict], error: BaseException) -> None:
        with self._cond:
            if self._abandoned:
                return
        self.spool.append(records)
        if not self.offline:
            self.outages += 1
            warn(
                f"cannot reach the tracking store ({type(error).__name__}: {_short(error)}); training goes on, "
                f"what could not be sent is kept in {self.spool.path} and sent when it is back"
            )
        self.offline, self.last_error = True, error

    def _deliver(self, batch: list[dict]) -> None:
        if self.spool.exists():
            _, left = replay(self.spool, on_permanent=self._permanent, execute=self._execute)
            if left:
                self._spool_rest(batch, self.last_error or RuntimeError("server unreachable"))
                return
        groups = coalesced_groups(batch)
        for index, group in enumerate(groups):
            rest = [record for later in groups[index + 1 :] for record in later]
            with self._cond:
                if self._abandoned:
                    return
                self._inflight = group + rest
            if not self._send(group, rest):
                return
        if self.offline:
            self.offline = False
            warn("the tracking store is reachable again; everything kept on disk was delivered")

    def _send(self, group: list[dict], rest: list[dict]) -> bool:
        """Send ``group`` as one record. Refused for good as a whole, its records are sent one by one,
        so only a refused one is lost. False when the store is away (what was not sent is spooled)."""
        record = merged(group)
        try:
            self._execute(record)
            return True
        except Exception as exc:
            if is_transient(exc):
                self._spool_rest(group + rest, exc)
                return False
            if len(group) == 1:
                self._permanent(f"could not {describe(record)}: {type(exc).__name__}: {_short(exc)}")
                return True
        return all(self._send([single], group[index + 1 :] + rest) for index, single in enumerate(group))

    def _permanent(self, message: str) -> None:
        self.permanent_errors.append(message)
        warn(message)
