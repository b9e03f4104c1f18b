"""The environment the command starts in: a working directory deleted from under the shell
is named as such (Hydra would otherwise say it cannot create the run's directory)."""

import subprocess
import sys


def test_a_deleted_working_directory_is_named_as_such(tmp_path):
    script = f"mkdir gone && cd gone && rmdir ../gone && exec {sys.executable} -m framework.train logger=none"
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("shell-init")]
    assert lines == [
        "error: the current directory was deleted (or moved away) while this shell was in it, and a run writes "
        "its outputs there; cd into a directory that exists and run the command again"
    ]
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere
