"""Helpers for plugin tests: plugin objects made in code, and fake installed
distributions (a ``.dist-info`` directory with an entry point, on ``sys.path``)."""

import importlib
import sys
import textwrap
import types
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from framework import hookimpl
from framework.plugins import DISABLE_AUTOLOAD_ENV, DISABLE_PLUGINS_ENV


@pytest.fixture(autouse=True)
def _plugin_environment(monkeypatch):
    """Every test starts with autoload on and nothing blocked, whatever the shell set."""
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    monkeypatch.delenv(DISABLE_PLUGINS_ENV, raising=False)


def plugin_module(name: str, **hooks) -> types.ModuleType:
    """A plugin object named ``name`` (a module, as an entry point would load) whose
    functions ``hooks`` are marked as hook implementations."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        function.__name__ = hook_name
        setattr(module, hook_name, hookimpl(function))
    return module


@dataclass
class FakeDistribution:
    name: str
    version: str
    entry_point: str
    module: str
    site: Path


@pytest.fixture
def make_distribution(tmp_path, monkeypatch, request):
    """``make_distribution(source, entry_point=..., name=..., version=...)``: a distribution
    installed in a fresh directory on ``sys.path``, with one entry point in group
    ``framework`` pointing at a new module whose code is ``source``."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(source: str, *, entry_point: str | None = None, name: str | None = None, version: str = "1.2.3"):
        tag = uuid.uuid4().hex[:8]
        module = f"fake_plugin_{tag}"
        entry_point = entry_point or f"fake-{tag}"
        name = name or f"fake-dist-{tag}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[framework]\n{entry_point} = {module}\n")
        request.addfinalizer(lambda: sys.modules.pop(module, None))
        importlib.invalidate_caches()
        return FakeDistribution(name, version, entry_point, module, site)

    return make
