"""The package installed from its wheel, not editable: the command runs from a directory
that is not the checkout, with the configs the wheel ships (framework/command/configs/).

One wheel is built from the checkout and installed into a fresh virtual environment that sees
the site-packages of the Python running the tests, for the dependencies, so nothing is
downloaded. They are added by a ``.pth`` file rather than with ``system_site_packages``, which
would show the base interpreter's packages, not those of the venv the tests may run in. They
also hold the editable installs of the checkout and its plugins; the venv's own copy must win,
and is checked to.
"""

import importlib.util
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PRESET = "xor"  # offline and tiny
TIMEOUT = 300


def _setuptools_builds_wheels() -> bool:
    """Whether this Python can build the wheel itself (setuptools >= 70.1, or the wheel package);
    if not, pip builds it in an isolated environment with setuptools from the package index."""
    return any(importlib.util.find_spec(name) for name in ("setuptools.command.bdist_wheel", "wheel"))


def _run(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


def _see_the_testing_site_packages(python: Path) -> None:
    own = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=python.parent)
    paths = list(dict.fromkeys([*site.getsitepackages(), site.getusersitepackages()]))
    line = f"import site; list(map(site.addsitedir, {paths!r}))\n"
    (Path(own.stdout.strip()) / "testing-site-packages.pth").write_text(line)


class Installed:
    def __init__(self, root: Path):
        self.root = root
        self.venv = root / "venv"
        self.python = self.venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        self.cwd = root / "elsewhere"  # not the checkout: nothing there to import or compose

    def python_c(self, code: str) -> str:
        return _run(self.python, "-c", code, cwd=self.cwd).stdout

    def train(self, *overrides: str) -> subprocess.CompletedProcess:
        return _run(self.python, "-m", "framework.train", *overrides, cwd=self.cwd)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("wheel").resolve()
    build_flags = ["--no-build-isolation"] if _setuptools_builds_wheels() else []
    wheels = root / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", *build_flags, "-w", wheels, REPO, cwd=root)
    (wheel,) = wheels.glob("framework-*.whl")
    installed = Installed(root)
    # No pip of its own: the testing Python's pip, seen through the .pth file, installs into it.
    venv.create(installed.venv, with_pip=False, symlinks=True)
    _see_the_testing_site_packages(installed.python)
    _run(installed.python, "-m", "pip", "install", "--no-deps", "--force-reinstall", wheel, cwd=root)
    installed.cwd.mkdir()
    return installed


def test_the_venv_imports_its_own_copy_with_the_packaged_configs(installed):
    lines = installed.python_c(
        "import framework, hydra_plugins.framework_configs.searchpath as plugin\n"
        "from framework.command.paths import conf_dir, experiments_dir\n"
        "print(framework.__file__, plugin.__file__, conf_dir(), experiments_dir(), sep='\\n')"
    ).splitlines()
    package, plugin, conf, experiments = map(Path, lines)
    assert package.is_relative_to(installed.venv), f"the venv imports {package}, not its installed copy"
    assert plugin.is_relative_to(installed.venv), f"Hydra's search-path plugin comes from {plugin}"
    packaged = package.parent / "command" / "configs"
    assert (conf, experiments) == (packaged / "conf", packaged / "experiments")
    shipped = sorted(p.relative_to(packaged).as_posix() for p in packaged.rglob("*.yaml"))
    in_checkout = sorted(
        p.relative_to(REPO).as_posix() for d in ("conf", "experiments") for p in (REPO / d).rglob("*.yaml")
    )
    assert shipped == in_checkout


def test_one_epoch_run(installed):
    run_dir = installed.root / "runs" / "train"
    result = installed.train("trainer.epochs=1", "logger=none", "callbacks.progress=null", f"hydra.run.dir={run_dir}")
    assert "result: " in result.stdout
    assert (run_dir / "weights.npz").is_file()
    sources = yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text())["hydra"]["runtime"]["config_sources"]
    (main,) = (source["path"] for source in sources if source["provider"] == "main")
    assert Path(main).is_relative_to(installed.venv) and main.endswith("command/configs/conf"), main


def test_help_lists_groups_and_experiments(installed):
    result = installed.train("--help")
    groups = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line and "," in line)
    assert {"adam", "adamw", "rmsprop", "sgd"} <= set(groups["optimizer"].split(", "))
    presets = {path.stem for path in (REPO / "experiments").glob("*.yaml")}
    assert set(groups["experiment"].split(", ")) == presets


def test_a_preset(installed):
    run_dir = installed.root / "runs" / "preset"
    result = installed.train(f"+experiment={PRESET}", "trainer.epochs=1", "logger=none", f"hydra.run.dir={run_dir}")
    assert "result: " in result.stdout
    assert yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())["data"]["name"] == PRESET


def test_a_sweep(installed):
    sweep_dir = installed.root / "runs" / "sweep"
    installed.train("-m", "seed=0,1", "trainer.epochs=1", "logger=none", f"hydra.sweep.dir={sweep_dir}")
    assert sorted(path.parent.name for path in sweep_dir.glob("*/weights.npz")) == ["0", "1"]


def test_the_plugin_listing(installed):
    result = _run(installed.python, "-m", "framework.plugins", cwd=installed.cwd)
    assert "framework.builtin.components" in result.stdout
