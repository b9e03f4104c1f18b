"""Helpers for plugin tests: plugin objects made in code. Fake installed distributions
(``make_distribution``: a ``.dist-info`` directory with an entry point, on ``sys.path``)
come from ``tests/conftest.py``: the reliability suite uses them too."""

import types

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
