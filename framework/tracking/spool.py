"""The spool: the JSON-lines file holding what could not be sent yet, and its replay."""

import json
import os
import sys
import threading
from pathlib import Path

from framework.tracking.operations import describe, execute, is_transient, short_error


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
            on_permanent(f"could not {describe(record)}: {type(exc).__name__}: {short_error(exc)}")
            continue
        sent += 1
    spool.replace([])
    return sent, 0
