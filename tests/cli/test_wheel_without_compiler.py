"""Without a C compiler the package still builds, installs and trains: the compiled kernels are
optional, and every layer runs its NumPy path.

The wheel is built from a copy of the checkout's files (git's list: tracked and new, not ignored),
so that no extension built in place is packaged, with ``CC=false`` standing for a missing compiler.
It is installed into a fresh virtual environment, as in ``test_wheel.py``.
"""

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.cli.test_wheel import REPO, Installed, _run, _see_the_testing_site_packages, _setuptools_builds_wheels

pytestmark = pytest.mark.slow


def _checkout_copy(target: Path) -> Path:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout, to copy the checkout's own files")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _wheel_without_a_compiler(root: Path) -> Path:
    source = _checkout_copy(root / "source")
    build_flags = ["--no-build-isolation"] if _setuptools_builds_wheels() else []
    env = {**os.environ, "CC": "false", "CXX": "false"}
    env = {key: value for key, value in env.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", *build_flags, "-w", root / "wheels", source]
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"the build failed without a compiler:\n{result.stderr[-3000:]}"
    (wheel,) = (root / "wheels").glob("framework-*.whl")
    return wheel


def test_without_a_compiler_the_wheel_installs_and_trains_a_cnn_on_the_numpy_path(tmp_path):
    wheel = _wheel_without_a_compiler(tmp_path)
    assert not [name for name in zipfile.ZipFile(wheel).namelist() if name.endswith((".so", ".pyd"))]
    installed = Installed(tmp_path)
    venv.create(installed.venv, with_pip=False, symlinks=True)
    _see_the_testing_site_packages(installed.python)
    _run(installed.python, "-m", "pip", "install", "--no-deps", "--force-reinstall", wheel, cwd=tmp_path)
    installed.cwd.mkdir()
    assert installed.python_c("from framework.core import kernels; print(kernels.available())").strip() == "False"
    run_dir = tmp_path / "runs" / "cnn"
    result = installed.train(
        "data=digits",
        "data.flatten=false",
        "model=cnn",
        "trainer.epochs=1",
        "logger=none",
        "callbacks.progress=null",
        f"hydra.run.dir={run_dir}",
    )
    assert "result: " in result.stdout
    assert (run_dir / "weights.npz").is_file()
