"""A plugin that fails to load is reported as itself, before Hydra composes anything:
its own options (``data=iris``) do not turn into "no option 'iris'", and ``--help``
does not silently leave them out."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPECTED = (
    "error: Error importing plugin \"iris\" (entry point 'broken_iris' of broken-iris 1.0): "
    "ImportError: No module named 'sklearn'; fix or reinstall broken-iris "
    "(pip install --force-reinstall broken-iris), uninstall it, or block it: FRAMEWORK_DISABLE_PLUGINS=iris"
)


@pytest.fixture
def broken_site(tmp_path) -> Path:
    """An installed distribution whose entry point does not import; it ships ``data/iris.yaml``."""
    site = tmp_path / "site"
    info = site / "broken_iris-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "broken_iris.py").write_text("raise ImportError(\"No module named 'sklearn'\")\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-iris\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[framework]\niris = broken_iris\n")
    return site


def command(site: Path, *args: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), **env}
    for name in ("FRAMEWORK_DISABLE_PLUGINS", "FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD"):
        environment.pop(name, None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "framework.train", *args, f"hydra.run.dir={cwd / 'run'}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


@pytest.mark.parametrize("arguments", [["data=iris", "trainer.epochs=1"], ["--help"]], ids=["own option", "help"])
def test_a_plugin_that_fails_to_load_is_reported_as_itself(broken_site, tmp_path, arguments):
    result = command(broken_site, *arguments, cwd=tmp_path)
    assert result.returncode == 2, result.stdout[-2000:]
    assert result.stderr.strip().splitlines() == [EXPECTED]
    assert not (tmp_path / "run").exists()


def test_blocking_the_broken_plugin_lets_the_rest_run(broken_site, tmp_path):
    result = command(broken_site, "--help", cwd=tmp_path, FRAMEWORK_DISABLE_PLUGINS="iris")
    assert result.returncode == 0, result.stderr
    assert "optimizer: " in result.stdout and "sgd" in result.stdout
