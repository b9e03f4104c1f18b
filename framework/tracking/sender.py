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

import threading
import time

from framework.tracking.operations import describe, execute, is_transient, short_error
from framework.tracking.spool import Spool, replay, warn


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
                f"cannot reach the tracking store ({type(error).__name__}: {short_error(error)}); training goes on, "
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
                self._permanent(f"could not {describe(record)}: {type(exc).__name__}: {short_error(exc)}")
                return True
        return all(self._send([single], group[index + 1 :] + rest) for index, single in enumerate(group))

    def _permanent(self, message: str) -> None:
        self.permanent_errors.append(message)
        warn(message)
