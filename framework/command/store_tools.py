"""The tracking store's tools. ``python -m framework.tracking upload <spool> [...]``: send what
a run could not deliver to its tracking server (:mod:`framework.command.upload`).
``python -m framework.tracking repair``: end KILLED the runs left RUNNING by a process
that died (:mod:`framework.command.repair`). ``python -m framework.tracking rerun <run id>
[overrides]``: a new run of the config a run logged (:mod:`framework.command.rerun`).
``python -m framework.tracking diff <run A> <run B>``: two runs side by side
(:mod:`framework.command.run_diff`).

Each command first checks what it was given (``store_check.py``, the spool's every line,
and that the store has the runs the records are for): a mistake is one line on stderr,
``error: <what was given>: <what is wrong>; <the way out>``, exit status 2, and nothing is
changed, neither the store nor the spool (a spool with a line cut or garbled is not sent at
all: the line is named, to mend or delete, so no record is lost unseen).
Upload's exit status: 0 when every spool is empty afterwards, 1 when the store went away
midway (the rest stays in the spool), 2 when something given was refused.
"""

import argparse
import os
import sys
from pathlib import Path

from framework.command.store_check import check_store
from framework.command.upload import upload
from framework.core.errors import ConfigError
from framework.tracking.operations import short_error
from framework.tracking.store import TRACKING_URI_ENV, TrackingError, resolve_tracking_uri
from framework.training.secrets import masked


def store_named(tracking_uri: str | None) -> tuple[str, str]:
    """The store a command works on (``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else
    ``./mlflow.db``) and how the user named it, for messages."""
    uri = resolve_tracking_uri(tracking_uri)
    if tracking_uri:
        return uri, f"--tracking-uri={masked(uri)}"
    if os.environ.get(TRACKING_URI_ENV):
        return uri, f"{TRACKING_URI_ENV}={masked(uri)}"
    return uri, f"{masked(uri)} (the default: no --tracking-uri given)"


def run_repair(tracking_uri: str | None) -> int:
    from framework.command.repair import repair
    from framework.tracking.store import configure_environment

    uri, given = store_named(tracking_uri)
    check_store(uri, given)
    configure_environment(uri)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        lines = repair(MlflowClient(tracking_uri=uri))
    except (MlflowException, SQLAlchemyError, OSError) as exc:
        raise TrackingError(
            f"{given}: the repair stopped ({type(exc).__name__}: {short_error(exc)}); the runs it ended stay ended: "
            "run it again when the store can be written"
        ) from exc
    for line in lines:
        print(line)
    print(f"{len(lines)} stale run(s) ended in {masked(uri)}")
    return 0


class OneLineParser(argparse.ArgumentParser):
    """A mistake on the command line is one line, like every other refusal: what is wrong, and where
    the usage is (``--help``); exit status 2."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message}; see {self.prog} --help", file=sys.stderr)
        sys.exit(2)


def parser() -> OneLineParser:
    tools = OneLineParser(prog="python -m framework.tracking", description=__doc__.split("\n\n")[0])
    commands = tools.add_subparsers(dest="command", required=True)
    store = "the store (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)"
    up = commands.add_parser("upload", help="send what an outage kept on disk to the tracking server")
    up.add_argument("spools", nargs="+", type=Path, help="spool files or job output directories")
    up.add_argument("--tracking-uri", help="send to this tracking URI instead of the one each record names")
    fix = commands.add_parser("repair", help="end KILLED the runs left RUNNING by a process that died")
    fix.add_argument("--tracking-uri", help=store)
    again = commands.add_parser("rerun", help="a new run of the config a tracked run logged, with overrides on top")
    again.add_argument("run_id", help="the run's id (or runs:/<id>)")
    again.add_argument(
        "overrides", nargs="*", default=[], help="Hydra overrides applied to the run's config (key=value ...)"
    )
    again.add_argument("--tracking-uri", help=f"{store}; the run is looked up there")
    compare = commands.add_parser("diff", help="two tracked runs side by side: config, final metrics, versions")
    compare.add_argument("run_a", help="a run's id (or runs:/<id>)")
    compare.add_argument("run_b", help="another run's id")
    compare.add_argument("--tracking-uri", help=store)
    compare.add_argument("--all", action="store_true", help="every config key that differs, however many")
    return tools


def main(argv=None) -> int:
    tools = parser()
    args, extra = tools.parse_known_args(argv)
    if args.command == "rerun" and {"-m", "--multirun"} & set(extra):
        tools.error("rerun -m: a re-run is one run, not a sweep; sweep with python -m framework.train -m ...")
    if extra and (args.command != "rerun" or any(argument.startswith("-") for argument in extra)):
        tools.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:  # overrides after --tracking-uri
        args.overrides += extra
    if args.command != "upload":
        try:
            return _run_on_store(args)
        except (TrackingError, ConfigError) as exc:
            return _refused(exc)
    left, refused = 0, False
    for path in args.spools:
        try:
            left += upload(path, args.tracking_uri)
        except TrackingError as exc:
            _refused(exc)
            refused = True
    return 2 if refused else 0 if left == 0 else 1


def _run_on_store(args) -> int:
    if args.command == "repair":
        return run_repair(args.tracking_uri)
    if args.command == "rerun":
        from framework.command.rerun import rerun

        return rerun(args.tracking_uri, args.run_id, args.overrides)
    from framework.command.run_diff import diff

    return diff(args.tracking_uri, args.run_a, args.run_b, args.all)


def _refused(error: Exception) -> int:
    """Say ``error`` as one line on stderr; the exit status of a refusal."""
    print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
