"""Every registration hook, one test each: a class a plugin returns appears in its
registry with the plugin's origin. Built-ins come through the same hooks."""

import numpy as np
import pytest

import framework as fw
from framework import Callback, Schedule, hookspecs
from framework.data import Dataset, RawData
from framework.plugins import BUILTIN_PLUGINS, KINDS, Origin, build_plugins
from tests.plugins.conftest import plugin_module

IN_CODE = "registered in code"

#: Registration hook -> (registry kind, base class of what it registers).
REGISTRATION_HOOKS = {
    "framework_register_layers": ("layer", fw.Layer),
    "framework_register_losses": ("loss", fw.Loss),
    "framework_register_optimizers": ("optimizer", fw.Optimizer),
    "framework_register_schedules": ("schedule", Schedule),
    "framework_register_callbacks": ("callback", Callback),
    "framework_register_datasets": ("dataset", Dataset),
    "framework_register_metrics": ("metric", fw.Metric),
    "framework_register_initializers": ("initializer", fw.Initializer),
}


def test_every_registration_hook_is_tested_here():
    specs = {name for name in vars(hookspecs) if name.startswith("framework_register_")}
    assert specs == set(REGISTRATION_HOOKS), "add the new registration hook to REGISTRATION_HOOKS (and a test)"
    assert {hook: kind for hook, (kind, _) in REGISTRATION_HOOKS.items()} == KINDS


@pytest.mark.parametrize("hook_name", sorted(REGISTRATION_HOOKS))
def test_registration_hook_adds_the_class_with_its_origin(hook_name):
    kind, base = REGISTRATION_HOOKS[hook_name]
    cls = type(f"Plugged{base.__name__}", (base,), {"name": f"plugged_{kind}"})
    plugin = plugin_module("my_plugin", **{hook_name: lambda: [cls]})

    plugins = build_plugins(autoload=False, extra=[plugin])

    assert plugins.get(kind, f"plugged_{kind}") is cls
    assert plugins.registry(kind).origin(f"plugged_{kind}") == Origin("my_plugin", IN_CODE, "")
    assert plugins.plugin_hooks("my_plugin") == [hook_name]
    for other_kind in KINDS.values():
        if other_kind != kind:
            assert f"plugged_{kind}" not in plugins.registry(other_kind)


def test_registration_hook_may_return_a_tuple_or_none():
    class Tupled(fw.Layer):
        name = "tupled"

    plugins = build_plugins(
        autoload=False,
        extra=[
            plugin_module("tuple_plugin", framework_register_layers=lambda: (Tupled,)),
            plugin_module("none_plugin", framework_register_layers=lambda: None),
        ],
    )
    assert plugins.get("layer", "tupled") is Tupled


def test_one_plugin_registers_several_kinds_and_classes():
    class First(fw.Layer):
        name = "first"

    class Second(fw.Layer):
        name = "second"

    class Opt(fw.Optimizer):
        name = "opt"

    plugin = plugin_module(
        "multi", framework_register_layers=lambda: [First, Second], framework_register_optimizers=lambda: [Opt]
    )
    plugins = build_plugins(autoload=False, extra=[plugin])
    assert {"first", "second"} <= set(plugins.registry("layer").names())
    assert plugins.get("optimizer", "opt") is Opt
    assert plugins.plugin_hooks("multi") == ["framework_register_layers", "framework_register_optimizers"]


def test_config_dirs_hook(tmp_path):
    (tmp_path / "optimizer").mkdir()
    plugin = plugin_module("with_conf", framework_config_dirs=lambda: [str(tmp_path)])
    plugins = build_plugins(autoload=False, extra=[plugin])
    assert tmp_path in plugins.config_dirs()
    assert plugins.plugin_hooks("with_conf") == ["framework_config_dirs"]


def test_entry_point_plugin_gets_its_distribution_as_origin(make_distribution):
    dist = make_distribution(
        """
        from framework import Layer, hookimpl

        class Installed(Layer):
            name = "installed_layer"

        @hookimpl
        def framework_register_layers():
            return [Installed]
        """,
        entry_point="installed",
        name="installed-plugin",
        version="2.0.1",
    )
    plugins = build_plugins()
    assert plugins.registry("layer").origin("installed_layer") == Origin("installed", "installed-plugin", "2.0.1")
    assert plugins.get("layer", "installed_layer").__module__ == dist.module
    assert plugins.origins["installed"] == Origin("installed", "installed-plugin", "2.0.1")


def test_registered_dataset_loads_through_the_base_class():
    class Line(Dataset):
        name = "line"

        def raw(self, rng):
            x = rng.normal(size=(20, 1))
            return RawData(x[:16], x[:16, 0] > 0, x[16:], x[16:, 0] > 0, num_classes=2)

    plugins = build_plugins(autoload=False, extra=[plugin_module("lines", framework_register_datasets=lambda: [Line])])
    splits = plugins.get("dataset", "line")(val_fraction=0.25).load(np.random.default_rng(0))
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (12, 4, 4)


# -- built-ins ----------------------------------------------------------------------


def test_builtins_are_registered_through_the_hooks():
    plugins = build_plugins(autoload=False)
    assert list(plugins.origins) == list(BUILTIN_PLUGINS)
    total = 0
    for kind in KINDS.values():
        for name, cls, origin in plugins.registry(kind).items():
            assert origin.plugin in BUILTIN_PLUGINS, f"{kind} {name!r} comes from {origin}, not a built-in plugin"
            assert origin.distribution == "framework"
            assert origin.version == fw.__version__
            assert cls.__module__.startswith("framework."), f"{kind} {name!r}: {cls.__module__}"
            total += 1
    assert total > 0


def test_builtin_classes_come_from_the_builtin_plugins_even_with_plugins_installed():
    plugins = build_plugins()
    for kind in KINDS.values():
        for name, cls, origin in plugins.registry(kind).items():
            if cls.__module__.startswith("framework."):
                assert origin.plugin in BUILTIN_PLUGINS, f"{kind} {name!r}"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("layer", fw.LAYERS),
        ("loss", fw.LOSSES),
        ("optimizer", fw.OPTIMIZERS),
        ("initializer", fw.INITIALIZERS),
        ("metric", fw.METRICS),
    ],
)
def test_builtin_registries_hold_the_core_classes(kind, expected):
    registry = build_plugins(autoload=False).registry(kind)
    for cls in expected:
        assert registry.get(cls.name) is cls


@pytest.mark.parametrize("module_name", BUILTIN_PLUGINS)
def test_each_builtin_plugin_implements_only_registration_hooks(module_name):
    plugins = build_plugins(autoload=False)
    hooks = plugins.plugin_hooks(module_name)
    assert hooks
    assert set(hooks) <= set(KINDS) | {"framework_config_dirs"}


def test_blocking_a_builtin_removes_what_it_registers():
    plugins = build_plugins(autoload=False, disable=["framework.builtin.schedules"])
    assert len(plugins.registry("schedule")) == 0
    assert "framework.builtin.schedules" not in plugins.origins
    assert len(plugins.registry("optimizer")) > 0
