"""Which jobs watch their sweep's process: those it started, directly or through a
launcher's controller process; not those a scheduler started (a SLURM job), whose node
may give the sweep's PID to nothing, or to another process."""

import os
import subprocess
import sys

from framework.command.watchdog import SWEEP_PID_ENV, _descends_from, runs_apart_from_sweep, watch_sweep_process


def test_a_process_started_through_another_descends_from_the_sweep():
    probe = f"from framework.command.watchdog import _descends_from; print(_descends_from({os.getpid()}))"
    # this process -> sh -> python: the grandchild, as a submitit_local job under its controller
    result = subprocess.run(["sh", "-c", f"{sys.executable} -c '{probe}'; true"], capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr


def test_a_job_its_sweep_did_not_start_is_not_watched(monkeypatch):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert _descends_from(os.getppid()) and not _descends_from(other.pid)
        monkeypatch.setenv(SWEEP_PID_ENV, str(other.pid))  # the sweep's PID, as seen on a SLURM node
        assert watch_sweep_process() is None
        assert runs_apart_from_sweep()  # stopping it stops this job alone
    finally:
        other.kill()
        other.wait()


def test_a_job_in_the_sweeps_own_process_runs_with_it(monkeypatch):
    monkeypatch.setenv(SWEEP_PID_ENV, str(os.getpid()))
    assert watch_sweep_process() is None and not runs_apart_from_sweep()
    monkeypatch.delenv(SWEEP_PID_ENV)
    assert not runs_apart_from_sweep()
