"""``python -m framework.tracking upload <spool> [...]``: send what a run could not
deliver to its tracking server (kept in ``<job output dir>/mlflow/spool.jsonl``).

Records are sent in order (a line says how far it got every second); each is safe to
send twice. What still cannot be sent stays in the spool, so the command can simply be
run again. The spool's every line, the store and its runs are checked first: a spool
with a line cut or garbled is not sent at all (the line is named, to mend or delete), so
no record is lost unseen."""

import json
import time
from pathlib import Path

from framework.command.store_check import Refused, check_store
from framework.tracking.operations import OPERATIONS, client_for, execute, short_error
from framework.tracking.spool import Spool, replay
from framework.tracking.store import take_credentials
from framework.training.secrets import masked

SPOOL_NAME = "spool.jsonl"
GIVE_SPOOL = "give the spool.jsonl a run kept (<job dir>/mlflow/spool.jsonl) or its job directory"
ANOTHER_STORE = "give another --tracking-uri, or run upload again when it can"
#: Seconds between the upload's progress lines.
PROGRESS_EVERY = 1.0


class NotASpool(Refused):
    """The file given to upload was not written by the framework."""


def find_spool(path: Path) -> Path:
    """A spool file, or the spool of a job output directory (``<dir>/mlflow/spool.jsonl``)."""
    if path.is_dir():
        for candidate in (path / "mlflow" / SPOOL_NAME, path / SPOOL_NAME):
            if candidate.is_file():
                return candidate
        raise Refused(f"{path}: no {SPOOL_NAME} in it (nor in {path / 'mlflow'}); {GIVE_SPOOL}")
    if not path.is_file():
        raise Refused(
            f"{path}: no such spool file (an upload that sent everything removes its spool: nothing left?); {GIVE_SPOOL}"
        )
    return path


def say(line: str) -> None:
    print(line, flush=True)


def upload(path, tracking_uri: str | None = None, out=say) -> int:
    """Replay one spool; returns how many records are left in it. Raises :class:`Refused`,
    having sent nothing, for a spool or store it cannot use (see the module docstring)."""
    spool = Spool(find_spool(Path(path)))
    if not spool.is_ours():
        raise NotASpool(
            f"{spool.path}: not a spool the framework wrote (it lacks the spool header); nothing was sent and the "
            f"file is left as it is: {GIVE_SPOOL}"
        )
    tracking_uri = take_credentials(tracking_uri) if tracking_uri else None
    records = checked_records(spool, needs_uri=tracking_uri is None)
    if not records:
        spool.replace([])
        out(f"{spool.path}: nothing to upload")
        return 0
    uris = {tracking_uri} if tracking_uri else {record["tracking_uri"] for record in records}
    for uri in sorted(uris):
        check_store(uri, f"--tracking-uri={masked(uri)}" if tracking_uri else f"{masked(uri)} (named by {spool.path})")
    check_runs(spool, records, tracking_uri)
    target = ", ".join(sorted(masked(u) for u in uris))
    out(f"{spool.path}: sending {len(records)} record(s) to {target}")
    sent, left = replay(spool, tracking_uri, execute=_counting(len(records), spool.path, out))
    if left:
        out(f"{spool.path}: sent {sent} record(s) to {target}; {left} could not be sent yet and stay in the spool")
    else:
        out(f"{spool.path}: sent {sent} record(s) to {target}; nothing left, the spool is removed")
    return left


def checked_records(spool: Spool, needs_uri: bool) -> list[dict]:
    """The spool's records, or :class:`Refused` naming the lines that are not whole records (cut by a
    crash, or edited): replaying the rest would drop those lines for good, so nothing is sent."""
    try:
        lines = spool.path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise Refused(f"{spool.path}: cannot be read ({exc}); {GIVE_SPOOL}") from None
    records, bad = [], []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line) if line.strip() else Spool.HEADER
        except json.JSONDecodeError:
            record = None
        if record == Spool.HEADER:
            continue
        whole = isinstance(record, dict) and record.get("op") in OPERATIONS and "run_id" in record
        if whole and (record.get("tracking_uri") or not needs_uri):
            records.append(record)
        else:
            bad.append(number)
    if bad:
        raise Refused(
            f"{spool.path}: {_lines(bad, len(lines))} not a whole record (cut by a crash, or edited?); nothing was sent "
            f"and the file is left as it is: mend or delete {'it' if len(bad) == 1 else 'them'} "
            f"(sed -i '{';'.join(f'{n}d' for n in bad)}' {spool.path}), then upload again"
        )
    return records


def _lines(numbers: list[int], total: int) -> str:
    """``line 3 of 9 is``, ``lines 3, 5 of 9 are`` (the first five named)."""
    if len(numbers) == 1:
        return f"line {numbers[0]} of {total} is"
    more = " ..." if len(numbers) > 5 else ""
    return f"lines {', '.join(map(str, numbers[:5]))}{more} of {total} are"


def check_runs(spool: Spool, records: list[dict], tracking_uri: str | None) -> None:
    """Every run the records are for is in its store, and not deleted: MLflow would refuse each of
    those records for good, and they would be lost."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    runs: dict[tuple[str, str], int] = {}
    for record in records:
        if record["run_id"]:
            key = (tracking_uri or record["tracking_uri"], record["run_id"])
            runs[key] = runs.get(key, 0) + 1
    for (uri, run_id), count in runs.items():
        where = f"{spool.path}: {count} record(s) for run {run_id}"
        try:
            run = client_for(uri).get_run(run_id)
        except (MlflowException, SQLAlchemyError, OSError) as exc:
            if getattr(exc, "error_code", None) != "RESOURCE_DOES_NOT_EXIST":
                raise Refused(f"{where}: {masked(uri)} cannot be read ({short_error(exc)}); {ANOTHER_STORE}") from None
            raise Refused(
                f"{where}, which {masked(uri)} does not have; nothing was sent and the spool is left as it is: "
                "give the --tracking-uri of the store that run was recorded in"
            ) from None
        if run.info.lifecycle_stage == "deleted":
            raise Refused(
                f"{where}, which is deleted in {masked(uri)}; restore it (MLFLOW_TRACKING_URI={masked(uri)} "
                f"mlflow runs restore --run-id {run_id}) and upload again"
            )


def _counting(total: int, spool: Path, out):
    """:func:`~framework.tracking.operations.execute`, saying at most every ``PROGRESS_EVERY`` seconds how
    many of the ``total`` records went through."""
    sent, said = 0, time.monotonic()

    def execute_counted(record: dict, *tracking_uri: str) -> None:
        nonlocal sent, said
        execute(record, *tracking_uri)
        sent += 1
        if sent < total and time.monotonic() - said >= PROGRESS_EVERY:
            said = time.monotonic()
            out(f"{spool}: sent {sent}/{total} record(s)...")

    return execute_counted
