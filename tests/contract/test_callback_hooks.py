"""A callback's ``framework_*`` methods are checked against the lifecycle hookspecs:
a misspelled hook, a ``framework_*`` attribute that is no hook, and a hook taking an
argument its spec lacks are each one clear error naming the callback and its plugin,
in a notebook when the Trainer is built and in the command before the data loads."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import framework as fw
from framework import hookimpl
from framework.command import train
from framework.core.errors import ConfigError
from framework.data.base import Dataset
from framework.plugins import PluginError, build_plugins
from framework.training.hooks import CallbackHookError, check_callback_hooks

REPO = Path(__file__).resolve().parents[2]
TINY = ["trainer.epochs=1", "trainer.batch_size=256", "callbacks.progress=null", "data=xor"]


class EpochTypo(fw.Callback):
    name = "epoch_typo"

    def framework_epoch_ends(self, logs):
        logs["seen"] = 1.0


class NotAHook(fw.Callback):
    name = "not_a_hook"
    framework_version = "1.0"


class GreedyHook(fw.Callback):
    name = "greedy_hook"

    def framework_epoch_end(self, logs, optimizer):
        pass


class Fine(fw.Callback):
    name = "fine"

    def framework_epoch_end(self, logs, extra=None):  # an argument with a default is never passed: allowed
        pass


class CallbackPlugin:
    @hookimpl
    def framework_register_callbacks(self):
        return [EpochTypo, NotAHook, GreedyHook, Fine]


def tiny_trainer(*callbacks, plugins=None):
    rng = np.random.default_rng(0)
    model = fw.Sequential([fw.Dense(2)], input_shape=(2,), rng=rng)
    return fw.Trainer(
        model, fw.SoftmaxCrossEntropy(), fw.SGD(), epochs=1, callbacks=list(callbacks), rng=rng, plugins=plugins
    )


def test_a_misspelled_hook_names_the_callback_and_the_closest_hook():
    with pytest.raises(CallbackHookError) as caught:
        tiny_trainer(EpochTypo())
    message = str(caught.value)
    assert message.startswith("callback 'epoch_typo': framework_epoch_ends is not a lifecycle hook")
    assert "did you mean framework_epoch_end?" in message


def test_the_error_names_the_plugin_that_registered_the_callback():
    plugins = build_plugins(autoload=False, extra=[CallbackPlugin()])
    with pytest.raises(CallbackHookError, match=r"^callback 'epoch_typo' from plugin 'extra-0-CallbackPlugin'"):
        tiny_trainer(EpochTypo(), plugins=plugins)


def test_any_framework_attribute_that_is_not_a_hook_is_an_error():
    with pytest.raises(CallbackHookError, match=r"^callback 'not_a_hook': framework_version is not a lifecycle hook"):
        check_callback_hooks(NotAHook(), "callback 'not_a_hook'")


def test_a_hook_taking_an_argument_its_spec_lacks_says_what_it_may_take():
    with pytest.raises(CallbackHookError) as caught:
        tiny_trainer(GreedyHook())
    assert str(caught.value) == (
        "callback 'greedy_hook': framework_epoch_end takes optimizer, which the hook does not pass; "
        "it may take any of: trainer, epoch, logs (by name)"
    )
    assert isinstance(caught.value, PluginError)


def test_hooks_with_a_subset_of_arguments_or_defaults_are_accepted():
    tiny_trainer(Fine()).fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))


@pytest.fixture
def no_data_load(monkeypatch):
    def refuse(self, rng):
        raise AssertionError("the data was loaded before the callback was checked")

    monkeypatch.setattr(Dataset, "load", refuse)


@pytest.mark.parametrize(
    ("callback", "expected"),
    [
        ("epoch_typo", r"did you mean framework_epoch_end\?"),
        ("greedy_hook", r"framework_epoch_end takes optimizer, which the hook does not pass"),
    ],
)
def test_the_command_refuses_it_before_the_data_loads(compose_config, no_data_load, callback, expected):
    plugins = build_plugins(autoload=False, extra=[CallbackPlugin()])
    cfg = compose_config(*TINY, f"+callbacks.{callback}={{}}")
    with pytest.raises(ConfigError, match=rf"^callbacks.{callback}: callback '{callback}' from plugin .*{expected}"):
        train(cfg, plugins=plugins, log=lambda *_: None)


PLUGIN_SOURCE = """
from framework import Callback, hookimpl


class Greedy(Callback):
    name = "greedy"

    def framework_epoch_end(self, logs, optimizer):
        pass


@hookimpl
def framework_register_callbacks():
    return [Greedy]
"""


def test_an_installed_plugins_callback_is_one_line_with_exit_2(tmp_path):
    site = tmp_path / "site"
    info = site / "greedy_callbacks-2.0.dist-info"
    info.mkdir(parents=True)
    (site / "greedy_callbacks.py").write_text(PLUGIN_SOURCE)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: greedy-callbacks\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text("[framework]\ngreedy = greedy_callbacks\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    result = subprocess.run(
        [sys.executable, "-m", "framework.train", *TINY, "+callbacks.greedy={}", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        "error: callbacks.greedy: callback 'greedy' from plugin 'greedy' (greedy-callbacks 2.0): framework_epoch_end "
        "takes optimizer, which the hook does not pass; it may take any of: trainer, epoch, logs (by name)"
    )
    assert "Traceback" not in result.stderr and "data:" not in result.stdout


def test_a_plugin_module_attribute_named_like_a_hook_that_is_no_function_is_an_error():
    import types

    module = types.ModuleType("constants")
    module.framework_version = "2.0"
    with pytest.raises(PluginError, match=r"^plugin 'constants' \(registered in code\): framework_version is not a"):
        build_plugins(autoload=False, extra=[module])


def test_a_plugin_module_may_import_a_package_named_framework_something():
    import types

    module = types.ModuleType("importer")
    module.framework_contrib = types.ModuleType("framework_contrib")
    build_plugins(autoload=False, extra=[module])
