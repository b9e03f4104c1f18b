"""The lock that serializes creating a SQLite store and its experiment: it excludes other
processes while held, and leaves no file behind, in the temporary directory or beside the store."""

import os
import subprocess
import sys
import tempfile

from framework.tracking.store import store_lock

TRY_LOCK = "import fcntl, os, sys; fcntl.flock(os.open(sys.argv[1], os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)"


def _lock_files() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.endswith(".lock") and "framework" in name}


def test_the_store_lock_excludes_another_process_and_leaves_no_file(tmp_path):
    before = _lock_files()
    with store_lock(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        held = subprocess.run([sys.executable, "-c", TRY_LOCK, str(tmp_path)], capture_output=True, text=True)
        assert held.returncode != 0 and "BlockingIOError" in held.stderr
    free = subprocess.run([sys.executable, "-c", TRY_LOCK, str(tmp_path)], capture_output=True, text=True)
    assert free.returncode == 0, free.stderr
    assert list(tmp_path.iterdir()) == [] and _lock_files() <= before
