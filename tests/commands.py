"""The command as a subprocess, for the tests that drive it from outside."""

import os
import signal
import subprocess
import sys
import time


def run_command(*args, cwd, timeout=300, env=None) -> subprocess.CompletedProcess:
    """``python -m framework.train *args`` in ``cwd``, output captured; ``env`` adds variables."""
    return _run("framework.train", args, cwd, timeout, env)


def _run(module: str, args, cwd, timeout, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def start_command(*args, cwd, env=None) -> subprocess.Popen:
    """``python -m framework.train *args`` started in ``cwd``, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "framework.train", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def terminate_when(process: subprocess.Popen, ready, timeout: float) -> str:
    """Wait until ``ready()`` (or ``timeout`` seconds), send SIGTERM and return the process's
    stderr; fails if it ended before, and never leaves it running."""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None and not ready():
            time.sleep(0.2)
        assert process.poll() is None, process.communicate()[1][-3000:]
        os.kill(process.pid, signal.SIGTERM)
        return process.communicate(timeout=60)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def run_tool(*args, cwd, timeout=300, env=None) -> subprocess.CompletedProcess:
    """``python -m framework.tracking *args`` (the store's tools) in ``cwd``, output captured."""
    return _run("framework.tracking", args, cwd, timeout, env)
