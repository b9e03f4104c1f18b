"""The command that resumes a stopped run continues it in its own directory only when the
checkpoint is that directory's ``last.npz`` (anything else would move aside to ``<dir>-2``);
a RUNNING record is live only while its process is."""

import os
import shlex
import socket
import subprocess
import sys

from framework.training.run_status import may_be_live, resume_command


def test_a_runs_own_last_checkpoint_resumes_in_its_directory(tmp_path):
    run = tmp_path / "my run"
    overrides = ["+callbacks.marker={directory: '/x', epoch: 2}", "trainer.resume=old.npz", "hydra.run.dir=elsewhere"]
    command = resume_command(overrides, run / "checkpoints" / "last.npz", run)
    assert shlex.split(command) == [
        "python", "-m", "framework.train", "+callbacks.marker={directory: '/x', epoch: 2}",
        f"hydra.run.dir={run}", f"trainer.resume={run / 'checkpoints' / 'last.npz'}",
    ]  # fmt: skip


def test_another_checkpoint_resumes_into_a_new_directory(tmp_path):
    run = tmp_path / "run"
    for checkpoint in (tmp_path / "elsewhere" / "last.npz", run / "checkpoints" / "epoch-0002.npz"):
        assert (
            resume_command(["seed=1"], checkpoint, run)
            == f"python -m framework.train seed=1 trainer.resume={checkpoint}"
        )
    assert "hydra.run.dir" not in resume_command([], run / "checkpoints" / "last.npz")  # directory unknown


def test_a_running_record_may_be_live_unless_its_process_on_this_host_is_gone():
    """A RUNNING record from another host may be live; on this host, only while its process is."""
    here = socket.gethostname()
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = int(finished.stdout)
    assert may_be_live({"status": "RUNNING", "host": "another-host", "pid": gone})
    assert may_be_live({"status": "RUNNING", "host": here, "pid": os.getpid()})
    assert not may_be_live({"status": "RUNNING", "host": here, "pid": gone})
    assert not may_be_live({"status": "RUNNING", "host": here})  # no process to wait for
    assert not may_be_live({"status": "RUNNING", "host": here, "pid": "garbled"})
    assert not may_be_live({"status": "FINISHED", "host": here, "pid": os.getpid()})
