"""Case 7: an output directory that cannot be written, or a disk that fills up mid-run,
gives one clear line naming the path, the reason and what to do; nothing is
half-written: no temporary file stays, the previous checkpoint is intact.

Read-only is made for real: ``chmod 0555`` for a normal user; as root (whom chmod does
not stop) a read-only tmpfs mounted for the test, or, where mounting is not allowed, a
path below a regular file. A full disk is a small tmpfs filled mid-run (root, with
mount) and, everywhere, an in-process run whose writes fail with ENOSPC half-way."""

import contextlib
import errno
import os
import shutil
import subprocess
import time
import types

import pytest
from hydra import compose, initialize_config_dir

from framework.command import train
from framework.command.paths import conf_dir
from framework.core.errors import OutputWriteError
from framework.plugins import build_plugins
from framework.training.callback import Callback

from .conftest import (
    TINY,
    TRACKED,
    assert_all_npz_load,
    client_for,
    command,
    error_line,
    runs_of,
    temporary_files,
)
from .testkit import sha256


def _mount_tmpfs(path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return result.returncode == 0


def _unmount(path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def unwritable(tmp_path):
    """``(directory, reason)``: a directory in which nothing can be created, and the error text expected."""
    directory = tmp_path / "readonly"
    if os.geteuid() != 0:
        directory.mkdir()
        directory.chmod(0o555)
        yield directory, "Permission denied"
        directory.chmod(0o755)
    elif _mount_tmpfs(directory, "ro,size=64k"):
        yield directory, "Read-only file system"
        _unmount(directory)
    else:  # root without mount: a "directory" that is a regular file
        directory.write_text("not a directory")
        yield directory, "Not a directory"


@pytest.mark.slow
def test_a_read_only_run_directory_is_one_line_and_nothing_is_written(tmp_path, unwritable):
    directory, reason = unwritable
    target = directory / "run"
    result = command(*TINY, f"hydra.run.dir={target}", cwd=tmp_path)
    assert result.returncode == 2
    line = error_line(result)
    assert line.startswith(f"error: {target}: {reason}")
    assert "hydra.run.dir=<dir>" in line
    assert "data:" not in result.stdout  # stopped before anything was loaded or trained
    assert not target.exists()


@pytest.mark.slow
def test_a_read_only_checkpoint_directory_fails_before_training(tmp_path, unwritable):
    directory, reason = unwritable
    target = directory / "checkpoints"
    run_dir = tmp_path / "run"
    result = command(*TINY, f"callbacks.checkpoint.directory={target}", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 2
    line = error_line(result)
    assert line.startswith(f"error: callbacks.checkpoint.directory={target}: cannot write {target}: {reason}")
    assert "make that directory writable, or write to another directory" in line
    assert "data:" not in result.stdout
    assert not target.exists()
    assert not (run_dir / "weights.npz").exists()
    assert temporary_files(tmp_path) == []


# -- a disk that fills up mid-run ----------------------------------------------------------------


class DiskFillsUp(Callback):
    """At the start of epoch 3, remembers ``last.npz`` and makes every later file write fail
    with ENOSPC after 1 kB, as a full disk does (half a file is written, then the error)."""

    name = "disk_fills_up"
    monkeypatch = None  # set by the test
    before: bytes = b""

    def framework_epoch_start(self, trainer, epoch):
        if epoch != 3:
            return
        checkpoint = next(cb for cb in trainer.callbacks if cb.name == "checkpoint")
        DiskFillsUp.before = (checkpoint.last_path).read_bytes()
        real_fdopen = os.fdopen

        def full_fdopen(fd, *args, **kwargs):
            return _FullFile(real_fdopen(fd, *args, **kwargs))

        DiskFillsUp.monkeypatch.setattr(os, "fdopen", full_fdopen)


class _FullFile:
    def __init__(self, handle, room: int = 1024):
        self._handle, self._room = handle, room

    def write(self, data):
        if len(data) > self._room:
            self._handle.write(bytes(data[: self._room]))
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


def test_a_disk_that_fills_up_mid_run_is_one_clear_error_and_the_last_checkpoint_stays(tmp_path, monkeypatch):
    DiskFillsUp.monkeypatch = monkeypatch
    out = tmp_path / "out"
    with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
        cfg = compose("config", overrides=[*TINY, f"output_dir={out}", "+callbacks.disk_fills_up={}"])
    plugin = types.SimpleNamespace(__name__="reliability-disk", framework_register_callbacks=lambda: [DiskFillsUp])
    with pytest.raises(OutputWriteError) as raised:
        train(cfg, plugins=build_plugins(extra=[plugin]), log=lambda *_: None)
    monkeypatch.undo()
    message = str(raised.value)
    last = out / "checkpoints" / "last.npz"
    assert "\n" not in message
    assert message.startswith(f"cannot write {last}: No space left on device (errno 28); free some space")
    assert raised.value.errno == errno.ENOSPC and isinstance(raised.value, OSError)
    assert last.read_bytes() == DiskFillsUp.before  # the previous checkpoint, byte for byte
    assert temporary_files(tmp_path) == []  # the half-written temporary file was removed
    assert sorted(assert_all_npz_load(out)) == ["best.npz", "epoch-0001.npz", "epoch-0002.npz", "last.npz"]
    assert not (out / "weights.npz").exists()


@pytest.mark.slow
def test_a_real_disk_that_fills_up_mid_run(tmp_path, store, testkit_site):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "size=1m"):
        pytest.skip("mounting a small tmpfs needs root and mount; the in-process test above covers a full disk")
    with contextlib.ExitStack() as stack:
        stack.callback(_unmount, disk)
        marks = tmp_path / "marks"
        marks.mkdir()
        checkpoints = disk / "checkpoints"
        result = command(
            *TINY,
            *TRACKED,
            f"logger.tracking_uri={store}",
            f"callbacks.checkpoint.directory={checkpoints}",
            f"+callbacks.fill_disk={{directory: '{marks}', epoch: 3}}",
            f"hydra.run.dir={tmp_path / 'run'}",
            cwd=tmp_path,
            sites=[testkit_site],
        )
        assert result.returncode == 2
        line = error_line(result)
        assert line.startswith(f"error: cannot write {checkpoints / 'last.npz'}: No space left on device (errno 28)")
        assert sha256(checkpoints / "last.npz") == (marks / "last.sha256").read_text()
        assert temporary_files(disk) == []
        assert "last.npz" in assert_all_npz_load(checkpoints)
        [run] = runs_of(client_for(store))
        assert run.info.status == "FAILED" and run.data.tags["error_type"] == "OutputWriteError"


@pytest.mark.slow
def test_tracking_from_a_read_only_directory_is_one_line_at_once(tmp_path, unwritable):
    directory, reason = unwritable
    if reason != "Read-only file system":
        pytest.skip("needs a read-only mount to launch from (root without mount)")
    started = time.monotonic()
    result = command(*TINY, *TRACKED, f"hydra.run.dir={tmp_path / 'run'}", cwd=directory)
    assert result.returncode == 2
    assert error_line(result).startswith(f"error: logger.tracking_uri=sqlite:///{directory}/mlflow.db: {directory} is")
    assert "read-only" in error_line(result) and "data:" not in result.stdout
    assert time.monotonic() - started < 30  # no minutes of retries
