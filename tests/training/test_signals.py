"""SIGTERM and SIGINT in a real process: the run stops after the current batch, the
exception hook fires, ``last.npz`` is written, and resuming from it finishes the run
exactly like an uninterrupted one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from framework.training.checkpoint import read_checkpoint
from tests.training.helpers import assert_same_weights, without_seconds
from tests.training.test_resume import VALIDATION, X, Y, resumable_trainer

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, time
from pathlib import Path
from framework.training.callback import Callback
from tests.training.test_resume import VALIDATION, X, Y, resumable_trainer

directory = Path(sys.argv[1])

class Marker(Callback):
    name = "marker"

    def framework_batch_end(self, trainer, epoch, batch):
        if (epoch, batch) == (1, 2):
            (directory / "started").write_text("")
        time.sleep(0.05)  # slow enough that the signal arrives while training

    def framework_exception(self, trainer, error):
        # listed after the checkpoint callback, which has already attached its path
        (directory / "exception").write_text(f"{type(error).__name__} {getattr(error, 'checkpoint', None)}")

resumable_trainer(directory, Marker()).fit(X, Y, validation_data=VALIDATION)
(directory / "finished").write_text("")
"""


def run_and_signal(directory: Path, signum: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(directory)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (directory / "started").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the training process never reached batch 2 (exit {process.returncode}):\n{err}")
        time.sleep(0.005)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_run_with_a_checkpoint_that_resumes_exactly(tmp_path, signum):
    result = run_and_signal(tmp_path, signum)
    assert result.returncode != 0, result.stderr
    assert not (tmp_path / "finished").exists()
    assert "Interrupted" in result.stderr
    assert f"training interrupted by {signal.Signals(signum).name}" in result.stderr
    assert (tmp_path / "exception").read_text() == f"Interrupted {tmp_path / 'last.npz'}"
    checkpoint = read_checkpoint(tmp_path / "last.npz")
    assert checkpoint.manifest["completed_epochs"] == 0
    assert checkpoint.manifest["batches_done"] >= 3  # stopped after the current batch, mid-epoch

    reference = resumable_trainer(tmp_path / "reference")
    reference.fit(X, Y, validation_data=VALIDATION)
    resumed = resumable_trainer(tmp_path, seed=99)
    history = resumed.fit(X, Y, validation_data=VALIDATION, resume_from=tmp_path / "last.npz")
    assert without_seconds(history) == without_seconds(reference.history)
    assert_same_weights(resumed.model.state_dict(), reference.model.state_dict())
