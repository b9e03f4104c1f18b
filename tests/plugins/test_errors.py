"""Every way a plugin can go wrong fails early, with a message naming the plugin."""

import pytest

import framework as fw
from framework.plugins import (
    BUILTIN_PLUGINS,
    AmbiguousNameError,
    DuplicateNameError,
    FrameworkPluginManager,
    PluginError,
    UnknownNameError,
    build_plugins,
)
from tests.plugins.conftest import plugin_module

BROKEN_SOURCE = """
raise ImportError("No module named 'missing_dependency'")
"""


def working_source(layer_name: str) -> str:
    return f"""
    from framework import Layer, hookimpl

    class Plugged(Layer):
        name = {layer_name!r}

    @hookimpl
    def framework_register_layers():
        return [Plugged]
    """


# -- unknown names ------------------------------------------------------------------


def test_unknown_name_suggests_the_closest():
    plugins = build_plugins(autoload=False)
    with pytest.raises(UnknownNameError) as caught:
        plugins.get("optimizer", "adm")
    message = str(caught.value)
    assert message.startswith("Unknown optimizer 'adm'. Did you mean 'adam'?")
    assert "Available: adam, adamw, rmsprop, sgd" in message
    assert isinstance(caught.value, KeyError)


def test_unknown_name_without_a_close_match_lists_the_names():
    plugins = build_plugins(autoload=False)
    with pytest.raises(UnknownNameError, match=r"^Unknown loss 'zzz'\. Available: binary_cross_entropy, "):
        plugins.get("loss", "zzz")


# -- the same name twice ------------------------------------------------------------


def test_same_name_as_a_builtin_leaves_the_builtin_its_name():
    class MyAdam(fw.Optimizer):
        name = "adam"

    plugin = plugin_module("my_optimizers", framework_register_optimizers=lambda: [MyAdam])
    plugins = build_plugins(autoload=False, extra=[plugin])
    assert plugins.get("optimizer", "adam") is fw.Adam
    assert plugins.get("optimizer", "framework:adam") is fw.Adam
    assert plugins.get("optimizer", "my_optimizers:adam") is MyAdam


def test_one_plugin_registering_a_name_twice_names_the_plugin_and_both_classes():
    class First(fw.Optimizer):
        name = "twin"

    class Second(fw.Optimizer):
        name = "twin"

    plugin = plugin_module("twins", framework_register_optimizers=lambda: [First, Second])
    with pytest.raises(DuplicateNameError) as caught:
        build_plugins(autoload=False, extra=[plugin])
    assert str(caught.value) == (
        "optimizer name 'twin' is registered twice by plugin 'twins' (registered in code) "
        "(test_one_plugin_registering_a_name_twice_names_the_plugin_and_both_classes.<locals>.First and "
        "test_one_plugin_registering_a_name_twice_names_the_plugin_and_both_classes.<locals>.Second); a plugin "
        "registers each name once: fix the plugin, or block it (FRAMEWORK_DISABLE_PLUGINS=twins)"
    )


def test_same_name_from_two_distributions_is_refused_only_where_it_is_used(make_distribution):
    make_distribution(working_source("twice"), entry_point="first", name="first-dist", version="1.0")
    make_distribution(working_source("twice"), entry_point="second", name="second-dist", version="2.0")
    plugins = build_plugins()
    assert plugins.registry("layer").origin("first:twice").distribution == "first-dist"
    assert plugins.registry("layer").origin("second:twice").distribution == "second-dist"
    assert "twice" not in plugins.registry("layer")
    with pytest.raises(AmbiguousNameError) as caught:
        plugins.get("layer", "twice")
    assert str(caught.value) == (
        "layer name 'twice' is registered by 2 plugins, so it is ambiguous; "
        "write the qualified name: first:twice or second:twice"
    )


@pytest.mark.parametrize("plugin_name", ["framework", "odd:name"])
def test_a_plugin_name_that_cannot_qualify_a_name_is_refused(make_distribution, plugin_name):
    make_distribution(working_source("fine"), entry_point=plugin_name, name="odd-dist", version="1.0")
    with pytest.raises(PluginError, match=rf"^plugin '{plugin_name}' \(odd-dist 1\.0\): a plugin cannot be named"):
        build_plugins()


def test_a_name_with_the_separator_is_refused():
    class Odd(fw.Layer):
        name = "with:colon"

    plugin = plugin_module("odd", framework_register_layers=lambda: [Odd])
    with pytest.raises(fw.FrameworkError, match="a name may not contain ':'"):
        build_plugins(autoload=False, extra=[plugin])


def test_blocking_one_of_two_resolves_the_clash(make_distribution, monkeypatch):
    make_distribution(working_source("twice"), entry_point="first", name="first-dist")
    make_distribution(working_source("twice"), entry_point="second", name="second-dist")
    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGINS", "second")
    plugins = build_plugins()
    assert plugins.registry("layer").origin("twice").distribution == "first-dist"


# -- a plugin that does not import --------------------------------------------------


def test_import_error_names_distribution_and_entry_point_and_chains_the_cause(make_distribution):
    dist = make_distribution(BROKEN_SOURCE, entry_point="broken", name="broken-dist", version="0.3")
    with pytest.raises(PluginError) as caught:
        build_plugins()
    message = str(caught.value)
    assert message == (
        f"Error importing plugin \"broken\" (entry point '{dist.module}' of broken-dist 0.3): "
        "ImportError: No module named 'missing_dependency'; fix or reinstall broken-dist "
        "(pip install --force-reinstall broken-dist), uninstall it, or block it: FRAMEWORK_DISABLE_PLUGINS=broken"
    )
    assert isinstance(caught.value.__cause__, ImportError)
    assert str(caught.value.__cause__) == "No module named 'missing_dependency'"


def test_any_exception_at_import_is_reported_the_same_way(make_distribution):
    make_distribution("1 / 0\n", entry_point="divides", name="zero-dist", version="1.0")
    with pytest.raises(PluginError, match=r'^Error importing plugin "divides" .*zero-dist 1\.0\): ZeroDivisionError'):
        build_plugins()


def test_two_distributions_with_the_same_entry_point_name_are_both_named(make_distribution):
    make_distribution("", entry_point="shared", name="first-dist", version="1.0")
    make_distribution("", entry_point="shared", name="second-dist", version="2.0")
    with pytest.raises(PluginError) as caught:
        build_plugins()
    message = str(caught.value)
    assert message.startswith("two plugins are named 'shared': plugin 'shared' (")
    assert "first-dist 1.0" in message and "second-dist 2.0" in message
    assert "FRAMEWORK_DISABLE_PLUGINS=shared" in message


# -- an exception inside a registration hook ----------------------------------------


def test_exception_in_a_registration_hook_names_the_plugin():
    def framework_register_losses():
        raise ValueError("bad table")

    plugin = plugin_module("exploding", framework_register_losses=framework_register_losses)
    with pytest.raises(PluginError) as caught:
        build_plugins(autoload=False, extra=[plugin])
    assert str(caught.value) == (
        "plugin 'exploding' (registered in code) failed in framework_register_losses: ValueError: bad table"
    )
    assert isinstance(caught.value.__cause__, ValueError)


def test_exception_in_an_installed_registration_hook_names_the_distribution(make_distribution):
    make_distribution(
        """
        from framework import hookimpl

        @hookimpl
        def framework_register_metrics():
            return [undefined_name]
        """,
        entry_point="typo",
        name="typo-dist",
        version="0.1",
    )
    with pytest.raises(PluginError) as caught:
        build_plugins()
    assert str(caught.value).startswith("plugin 'typo' (typo-dist 0.1) failed in framework_register_metrics: NameError")
    assert isinstance(caught.value.__cause__, NameError)


def test_registration_hook_returning_a_class_not_a_list():
    plugin = plugin_module("unlisted", framework_register_layers=lambda: fw.ReLU)
    with pytest.raises(
        PluginError, match=r"^plugin 'unlisted' .*framework_register_layers must return a list, got type"
    ):
        build_plugins(autoload=False, extra=[plugin])


def test_registering_an_instance_names_the_plugin():
    plugin = plugin_module("instances", framework_register_layers=lambda: [fw.ReLU()])
    with pytest.raises(
        fw.FrameworkError, match=r"^plugin 'instances' .* registers ReLU\(\) as a layer, which is not a class"
    ):
        build_plugins(autoload=False, extra=[plugin])


def test_registering_a_class_without_a_name_names_the_plugin():
    class Nameless(fw.Layer):
        pass

    plugin = plugin_module("nameless", framework_register_layers=lambda: [Nameless])
    with pytest.raises(
        fw.FrameworkError, match=r"^plugin 'nameless' .* registers layer class .*Nameless without a 'name'"
    ):
        build_plugins(autoload=False, extra=[plugin])


def test_missing_config_dir_names_the_plugin(tmp_path):
    plugin = plugin_module("confless", framework_config_dirs=lambda: [str(tmp_path / "nope")])
    plugins = build_plugins(autoload=False, extra=[plugin])
    with pytest.raises(
        PluginError, match=r"^plugin 'confless' .*config directory .*nope from framework_config_dirs does not exist"
    ):
        plugins.config_dirs()


# -- implementations that do not match their spec -----------------------------------


def test_hookimpl_with_an_argument_the_spec_lacks_names_the_plugin():
    plugin = plugin_module("greedy", framework_epoch_end=lambda trainer, epoch, logs, optimizer: None)
    with pytest.raises(PluginError) as caught:
        build_plugins(autoload=False, extra=[plugin])
    message = str(caught.value)
    assert message.startswith("plugin 'greedy' (registered in code) could not be registered:")
    assert "framework_epoch_end" in message
    assert "{'optimizer'}" in message
    assert caught.value.__cause__ is not None


def test_installed_hookimpl_with_an_argument_the_spec_lacks_names_the_distribution(make_distribution):
    make_distribution(
        """
        from framework import hookimpl

        @hookimpl
        def framework_register_layers(config):
            return []
        """,
        entry_point="argful",
        name="argful-dist",
        version="3.1",
    )
    with pytest.raises(
        PluginError, match=r"(?s)^plugin 'argful' \(argful-dist 3\.1\) could not be registered:.*\{'config'\}"
    ):
        build_plugins()


def test_implementation_of_an_unknown_hook_names_the_plugin():
    plugin = plugin_module("typist", framework_register_layer=lambda: [])
    with pytest.raises(PluginError) as caught:
        build_plugins(autoload=False, extra=[plugin])
    message = str(caught.value)
    assert message.startswith("plugin 'typist' (registered in code): ")
    assert "framework_register_layer is not a hook of the framework" in message
    assert "did you mean framework_register_layers? rename the function" in message


def test_unmarked_framework_methods_are_implementations():
    """What lets a Callback's methods work without a decorator."""

    class Unmarked:
        def framework_register_layers(self):
            return [fw.ReLU]

        def helper(self):
            return None

    manager = FrameworkPluginManager("framework")
    from framework import hookspecs

    manager.add_hookspecs(hookspecs)
    manager.register(Unmarked(), name="unmarked")
    assert manager.hook.framework_register_layers() == [[fw.ReLU]]


# -- switching plugins off ----------------------------------------------------------


def test_autoload_disabled_by_environment_loads_no_entry_point(make_distribution, monkeypatch):
    broken = make_distribution(BROKEN_SOURCE, entry_point="broken")
    working = make_distribution(working_source("autoloaded"), entry_point="working")
    assert "autoloaded" in build_plugins(disable=["broken"]).registry("layer")

    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = build_plugins()
    assert "autoloaded" not in plugins.registry("layer")
    assert list(plugins.origins) == list(BUILTIN_PLUGINS)
    assert broken.entry_point not in plugins.origins and working.entry_point not in plugins.origins


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_autoload_stays_on_for_falsy_values(make_distribution, monkeypatch, value):
    make_distribution(working_source("autoloaded"), entry_point="working")
    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD", value)
    assert "autoloaded" in build_plugins().registry("layer")


def test_autoload_argument_overrides_the_environment(make_distribution, monkeypatch):
    make_distribution(working_source("autoloaded"), entry_point="working")
    assert "autoloaded" not in build_plugins(autoload=False).registry("layer")
    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "autoloaded" in build_plugins(autoload=True).registry("layer")


def test_disable_plugins_blocks_one_plugin(make_distribution, monkeypatch):
    make_distribution(BROKEN_SOURCE, entry_point="broken")
    make_distribution(working_source("kept"), entry_point="kept")
    with pytest.raises(PluginError, match='Error importing plugin "broken"'):
        build_plugins()

    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGINS", "broken")
    plugins = build_plugins()
    assert "broken" not in plugins.origins
    assert "kept" in plugins.registry("layer")
    assert plugins.manager.is_blocked("broken")


def test_disable_plugins_takes_a_comma_separated_list(make_distribution, monkeypatch):
    make_distribution(BROKEN_SOURCE, entry_point="broken")
    make_distribution(working_source("other"), entry_point="other")
    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGINS", " broken , other,framework.builtin.metrics")
    plugins = build_plugins()
    assert "other" not in plugins.registry("layer")
    assert not [name for name, _, origin in plugins.registry("metric").items() if origin.distribution == "framework"]


# -- an exception inside a lifecycle hook ------------------------------------------


def test_an_unexpected_error_in_a_lifecycle_hook_names_the_plugin_and_keeps_the_cause():
    import numpy as np

    import framework as fw

    def framework_epoch_end(trainer, epoch, logs):
        raise KeyError("val_f1")

    plugins = build_plugins(autoload=False, extra=[plugin_module("reporting", framework_epoch_end=framework_epoch_end)])
    rng = np.random.default_rng(0)
    model = fw.Sequential([fw.Dense(2)], input_shape=(3,), rng=rng)
    trainer = fw.Trainer(model, fw.SoftmaxCrossEntropy(), fw.SGD(), epochs=2, rng=rng, plugins=plugins)
    with pytest.raises(PluginError) as caught:
        trainer.fit(rng.normal(size=(8, 3)), rng.integers(0, 2, size=8))
    assert (
        str(caught.value) == "plugin 'reporting' (registered in code) failed in framework_epoch_end: KeyError: 'val_f1'"
    )
    assert isinstance(caught.value.__cause__, KeyError)
