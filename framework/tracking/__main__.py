"""``python -m framework.tracking upload <spool> [...]``: send what a run could not
deliver to its tracking server (kept in ``<job output dir>/mlflow/spool.jsonl``).
``python -m framework.tracking repair``: end KILLED the runs left RUNNING by a process
that died (``framework/tracking/repair.py``).

Records are sent in order (a line says how far it got every second); each is safe to
send twice. What still cannot be sent stays in the spool, so the command can simply be
run again. A file that is not a spool (no spool header) is refused and left as it is.
Exit status 0 when every spool is empty afterwards, 1 otherwise, 2 on a usage error or
a file that is not a spool.
"""

import argparse
import sys
import time
from pathlib import Path

from framework.tracking.sender import Spool, execute, replay
from framework.tracking.store import TrackingError, check_server, is_http, masked, sqlite_path, take_credentials

SPOOL_NAME = "spool.jsonl"
#: Seconds between the upload's progress lines.
PROGRESS_EVERY = 1.0


class NotASpool(TrackingError):
    """The file given to upload was not written by the framework."""


def find_spool(path: Path) -> Path:
    """A spool file, or the spool of a job output directory (``<dir>/mlflow/spool.jsonl``)."""
    if path.is_dir():
        for candidate in (path / "mlflow" / SPOOL_NAME, path / SPOOL_NAME):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"{path}: no {SPOOL_NAME} in it (nor in {path / 'mlflow'})")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such spool file (nothing left to upload?)")
    return path


def say(line: str) -> None:
    print(line, flush=True)


def upload(path, tracking_uri: str | None = None, out=say) -> int:
    """Replay one spool; returns how many records are left in it."""
    spool = Spool(find_spool(Path(path)))
    if not spool.is_ours():
        raise NotASpool(
            f"{spool.path}: not a spool the framework wrote (it lacks the spool header); nothing was sent and the "
            "file is left as it is: give the spool.jsonl a run kept (<job dir>/mlflow/spool.jsonl) or its job directory"
        )
    records = spool.read()
    tracking_uri = take_credentials(tracking_uri) if tracking_uri else None
    if not records:
        spool.replace([])
        out(f"{spool.path}: nothing to upload")
        return 0
    uris = {tracking_uri} if tracking_uri else {record.get("tracking_uri") for record in records}
    for uri in sorted(u for u in uris if u):
        if is_http(uri):
            check_server(uri)
    target = masked(tracking_uri) if tracking_uri else ", ".join(sorted(masked(u) for u in uris if u))
    out(f"{spool.path}: sending {len(records)} record(s) to {target}")
    sent, left = replay(spool, tracking_uri, execute=_counting(len(records), spool.path, out))
    if left:
        out(f"{spool.path}: sent {sent} record(s) to {target}; {left} could not be sent yet and stay in the spool")
    else:
        out(f"{spool.path}: sent {sent} record(s) to {target}; nothing left, the spool is removed")
    return left


def _counting(total: int, spool: Path, out):
    """:func:`~framework.tracking.sender.execute`, saying at most every ``PROGRESS_EVERY`` seconds how
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


def run_repair(tracking_uri: str | None) -> int:
    from framework.tracking.repair import repair
    from framework.tracking.store import configure_environment, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    if sqlite_path(uri) is not None and not sqlite_path(uri).is_file():
        print(f"error: {sqlite_path(uri)}: no tracking store here; give --tracking-uri", file=sys.stderr)
        return 2
    if is_http(uri):
        check_server(uri)
    configure_environment(uri)
    from mlflow import MlflowClient

    lines = repair(MlflowClient(tracking_uri=uri))
    for line in lines:
        print(line)
    print(f"{len(lines)} stale run(s) ended in {masked(uri)}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m framework.tracking", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upload", help="send what an outage kept on disk to the tracking server")
    up.add_argument("spools", nargs="+", type=Path, help="spool files or job output directories")
    up.add_argument("--tracking-uri", help="send to this tracking URI instead of the one each record names")
    fix = commands.add_parser("repair", help="end KILLED the runs left RUNNING by a process that died")
    fix.add_argument("--tracking-uri", help="the store (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)")
    args = parser.parse_args(argv)
    if args.command == "repair":
        return run_repair(args.tracking_uri)
    left, refused = 0, False
    for path in args.spools:
        try:
            left += upload(path, args.tracking_uri)
        except NotASpool as exc:
            print(f"error: {exc}", file=sys.stderr)
            refused = True
        except (FileNotFoundError, TrackingError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            left += 1
    return 2 if refused else 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
