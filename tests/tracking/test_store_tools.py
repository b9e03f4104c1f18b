"""The store's own tools (``python -m framework.tracking upload`` and ``repair``) end every
mistake alike: one line on stderr, ``error: <what was given>: <what is wrong>; <the way out>``,
exit status 2, no traceback, and nothing changed or created: every file's bytes are the same
afterwards (docs/reliability.md, "The store's own tools"). Each case runs the real command."""

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import pytest

from framework.tracking.spool import Spool
from tests.conftest import free_port, fresh_store

#: A run that no store of these tests has.
RUN_ID = "a" * 32


class Case(NamedTuple):
    argv: tuple[str, ...]  # ``{name}`` stands for a path of the ``place`` fixture
    given: str  # what the line starts with, after ``error: ``
    what: str  # what happened
    fix: str  # the way out
    env: dict | None = None


#: A tracking URI that both tools refuse: (URI, what happened, the way out).
BAD_STORES = {
    "truncated-store": ("sqlite:///{cut_store}", "is cut short (4096 of", "restore it from a backup or move it aside"),
    "damaged-store": ("sqlite:///{damaged}", "is damaged (SQLite:", "restore it from a backup or move it aside"),
    "other-sqlite": ("sqlite:///{other_sqlite}", "is an SQLite database but not an MLflow store", "give another"),
    "text-file": ("sqlite:///{text}", "is not an SQLite database", "move it aside (mv {text} {text}.not-a-store)"),
    "empty-file": ("sqlite:///{empty}", "is an empty file", "or remove the empty file"),
    "directory": ("sqlite:///{folder}", "is a directory, not a store file", "give the --tracking-uri of the store"),
    "directory-as-path": ("{folder}", "is a directory but not an MLflow store", "give --tracking-uri sqlite:///"),
    "path-under-a-file": ("sqlite:///{plain}/mlflow.db", "{plain} is a file, so there is no store", "never create one"),
    "missing-directory": ("sqlite:///{tmp}/nowhere/mlflow.db", "not even its directory", "never create one"),
    "no-server": ("http://127.0.0.1:{port}", "server does not answer", "start it (mlflow server"),
    "unknown-scheme": ("foo://x", "MLflow has no store for the scheme 'foo'", "give --tracking-uri sqlite:///"),
    "malformed-ipv6": ("http://[::1", "not a valid URI (Invalid IPv6 URL)", "give --tracking-uri sqlite:///"),
    "malformed-port": ("http://127.0.0.1:port", "not a valid URI", "give --tracking-uri sqlite:///"),
    "two-slashes": (
        "sqlite://mlflow.db",
        "not the URI of an SQLite store file (that is sqlite:///<path>",
        "give --tracking-uri sqlite:///<dir>/mlflow.db",
    ),
    "store-as-path": ("{store}", "is an SQLite file", "give --tracking-uri sqlite:///{store}"),
}
STORE_CASES = {
    f"{command}-{name}": Case((*argv, "--tracking-uri", uri), f"--tracking-uri={uri}", what, fix)
    for name, (uri, what, fix) in BAD_STORES.items()
    for command, argv in (("repair", ("repair",)), ("upload", ("upload", "{spool}")))
}
WITH_STORE = ("--tracking-uri", "sqlite:///{store}")
OTHER_CASES = {
    "repair-default-store": Case(
        ("repair",), "sqlite:///{tmp}/mlflow.db (the default: no --tracking-uri given)", "no such file", "never create"
    ),
    "repair-environment": Case(
        ("repair",),
        "MLFLOW_TRACKING_URI=foo://x",
        "no store for the scheme",
        "give --tracking-uri",
        {"MLFLOW_TRACKING_URI": "foo://x"},
    ),
    "upload-missing-spool": Case(
        ("upload", "{tmp}/gone.jsonl"), "{tmp}/gone.jsonl", "no such spool file", "give the spool.jsonl"
    ),
    "upload-directory-without-spool": Case(
        ("upload", "{folder}"), "{folder}", "no spool.jsonl in it", "or its job directory"
    ),
    "upload-not-a-spool": Case(
        ("upload", "{text}"), "{text}", "not a spool the framework wrote", "file is left as it is"
    ),
    "upload-garbled-line": Case(
        ("upload", "{garbled}", *WITH_STORE), "{garbled}", "line 3 of 4 is not a whole record", "sed -i '3d' {garbled}"
    ),
    "upload-cut-last-line": Case(("upload", "{cut_spool}", *WITH_STORE), "{cut_spool}", "line 3 of 3", "sed -i '3d'"),
    "upload-run-not-in-store": Case(
        ("upload", "{spool}", *WITH_STORE),
        "{spool}",
        f"run {RUN_ID}, which sqlite:///{{store}} does not have",
        "give the --tracking-uri of the store",
    ),
    "upload-records-name-a-missing-store": Case(
        ("upload", "{elsewhere}"),
        "sqlite:///{tmp}/gone/mlflow.db (named by {elsewhere})",
        "no such file",
        "never create one",
    ),
}
CASES = {**STORE_CASES, **OTHER_CASES}


def spool_lines(uri: str) -> list[str]:
    record = {"op": "terminate", "tracking_uri": uri, "run_id": RUN_ID, "status": "FINISHED"}
    return [json.dumps(Spool.HEADER), json.dumps(record)]


@pytest.fixture
def place(tmp_path, _template_store) -> SimpleNamespace:
    """A real store, broken stores and spools, each a file in ``tmp_path``."""
    store = tmp_path / "store" / "mlflow.db"
    uri = fresh_store(_template_store, store)
    files = SimpleNamespace(tmp=tmp_path, store=store, port=free_port(), folder=tmp_path / "folder")
    files.folder.mkdir()
    contents = {
        "cut_store": store.read_bytes()[:4096],
        "text": b"notes, not a database\n",
        "empty": b"",
        "plain": b"x\n",
        "spool": "\n".join(spool_lines(uri)).encode() + b"\n",
        "garbled": "\n".join([*spool_lines(uri), '{"op": "log_ba', spool_lines(uri)[1]]).encode() + b"\n",
        "cut_spool": "\n".join([*spool_lines(uri), spool_lines(uri)[1][:30]]).encode(),
        "elsewhere": "\n".join(spool_lines(f"sqlite:///{tmp_path}/gone/mlflow.db")).encode() + b"\n",
    }
    for name, content in contents.items():
        path = tmp_path / name
        path.write_bytes(content)
        setattr(files, name, path)
    files.damaged = damaged_copy(store, tmp_path / "damaged")
    files.other_sqlite = tmp_path / "other_sqlite"
    with contextlib.closing(sqlite3.connect(files.other_sqlite)) as database, database:
        database.execute("CREATE TABLE notes (text)")
    return files


def damaged_copy(store: Path, path: Path) -> Path:
    """``store`` with four pages in its middle overwritten: its size and header are right."""
    content = bytearray(store.read_bytes())
    middle = len(content) // 2 // 4096 * 4096
    content[middle : middle + 4 * 4096] = b"\xab" * (4 * 4096)
    path.write_bytes(content)
    return path


def snapshot(root: Path) -> dict[str, str]:
    """Every file and directory below ``root``, with each file's sha256."""
    return {
        str(path.relative_to(root)): "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_mistake_is_one_line_with_the_way_out_and_changes_nothing(case, place, tmp_path):
    argv = [part.format(**vars(place)) for part in case.argv]
    before = snapshot(tmp_path)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "framework.tracking", *argv],
        cwd=tmp_path, env={**os.environ, **(case.env or {})}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    given, what, fix = (text.format(**vars(place)) for text in (case.given, case.what, case.fix))
    assert line.startswith(f"error: {given}: "), line
    assert what in line and fix in line, line
    assert line.index(what) < line.index("; ") < line.rindex(fix), line  # what happened; then the way out
    assert snapshot(tmp_path) == before  # no byte changed, nothing created (no new store, no mlruns)
    assert elapsed < 20  # an absent server too: seconds, not MLflow's minutes of retries


def test_every_case_of_the_table_is_there():
    """Both tools against each bad store, and every spool mistake: the promise's list."""
    assert len(CASES) >= 20
    assert {name.partition("-")[2] for name in STORE_CASES} == set(BAD_STORES)


def test_a_store_without_read_permission_is_refused(place, tmp_path):
    place.store.chmod(0)
    if os.access(place.store, os.R_OK):
        pytest.skip("this user reads files without read permission (root); a path under a file is checked instead")
    before = snapshot(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "framework.tracking", "repair", "--tracking-uri", f"sqlite:///{place.store}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert f"{place.store} cannot be read" in line and "make it readable" in line
    assert snapshot(tmp_path) == before


def test_records_for_a_deleted_run_are_refused_with_the_command_that_restores_it(place, tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{place.store}"
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("uploads"))
    client.delete_run(run.info.run_id)
    place.spool.write_text(place.spool.read_text().replace(RUN_ID, run.info.run_id))
    before = snapshot(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "framework.tracking", "upload", str(place.spool)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {place.spool}: 1 record(s) for run {run.info.run_id}, which is deleted in {uri}; ")
    assert line.endswith(f"mlflow runs restore --run-id {run.info.run_id}) and upload again")
    assert snapshot(tmp_path) == before
