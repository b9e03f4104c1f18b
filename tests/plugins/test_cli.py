"""``python -m framework.plugins``: the listing, its JSON form, and a broken plugin."""

import json
import os
import subprocess
import sys
from importlib.util import find_spec

import pytest

import framework as fw
from framework.plugins import BUILTIN_PLUGINS, KINDS, build_plugins
from framework.plugins.__main__ import main

EXTRAS_INSTALLED = find_spec("framework_extras") is not None
needs_extras = pytest.mark.skipif(not EXTRAS_INSTALLED, reason="framework-extras is not installed")

PLUGIN_KEYS = {"name", "distribution", "version", "builtin", "hooks", "config_dirs"}
ENTRY_KEYS = {"name", "qualified", "bare", "class", "plugin", "distribution", "version"}


def run_cli(*args, pythonpath=None, **env):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FRAMEWORK_")}
    if pythonpath:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), environment.get("PYTHONPATH")]))
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "framework.plugins", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


@pytest.fixture(scope="module")
def listing():
    return run_cli()


@pytest.fixture(scope="module")
def json_listing():
    result = run_cli("--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_lists_every_builtin_plugin_and_name(listing):
    assert listing.returncode == 0, listing.stderr
    assert listing.stderr == ""
    out = listing.stdout
    assert out.startswith(f"framework {fw.__version__}\n")
    for module_name in BUILTIN_PLUGINS:
        assert f"  {module_name}  [framework {fw.__version__}]  (built-in)" in out
    registries = build_plugins().registries
    for kind, registry in registries.items():
        assert f"\n{kind} ({len(registry)}):" in out
        for entry in registry.entries():
            assert f"  {entry.name} " in out and f" {entry.qualified} " in out and entry.origin.plugin in out
    assert "hooks: framework_register_initializers, framework_register_layers" in out


def test_json_schema(json_listing):
    data = json_listing
    assert set(data) == {"framework_version", "blocked", "plugins", "registries", "collisions"}
    assert data["framework_version"] == fw.__version__
    assert data["blocked"] == []
    for plugin in data["plugins"]:
        assert set(plugin) == PLUGIN_KEYS
        assert plugin["builtin"] == (plugin["name"] in BUILTIN_PLUGINS)
        assert plugin["hooks"] == sorted(plugin["hooks"]) and plugin["hooks"]
    assert [plugin["name"] for plugin in data["plugins"]][: len(BUILTIN_PLUGINS)] == list(BUILTIN_PLUGINS)
    assert list(data["registries"]) == list(KINDS.values())
    for entries in data["registries"].values():
        assert [entry["qualified"] for entry in entries] == sorted(
            (entry["qualified"] for entry in entries), key=lambda qualified: qualified.split(":")[::-1]
        )
        for entry in entries:
            assert set(entry) == ENTRY_KEYS


def test_json_matches_the_registries(json_listing):
    plugins = build_plugins()
    for kind, entries in json_listing["registries"].items():
        expected = [
            {
                "name": entry.name,
                "qualified": entry.qualified,
                "bare": entry.owns_name,
                "class": f"{entry.cls.__module__}.{entry.cls.__qualname__}",
                "plugin": entry.origin.plugin,
                "distribution": entry.origin.distribution,
                "version": entry.origin.version,
            }
            for entry in plugins.registry(kind).entries()
        ]
        assert entries == expected
    adam = next(entry for entry in json_listing["registries"]["optimizer"] if entry["name"] == "adam")
    assert adam == {
        "name": "adam",
        "qualified": "framework:adam",
        "bare": True,
        "class": "framework.core.optimizers.Adam",
        "plugin": "framework.builtin.components",
        "distribution": "framework",
        "version": fw.__version__,
    }


@needs_extras
def test_lists_the_installed_extras_plugin(listing, json_listing):
    import framework_extras
    from framework_extras.plugin import CONFIG_DIR

    assert f"  extras  [framework-extras {framework_extras.__version__}]\n" in listing.stdout
    assert f"config dir: {CONFIG_DIR}" in listing.stdout
    assert f"  lion     extras:lion        extras [framework-extras {framework_extras.__version__}]" in listing.stdout

    extras = next(plugin for plugin in json_listing["plugins"] if plugin["name"] == "extras")
    assert extras == {
        "name": "extras",
        "distribution": "framework-extras",
        "version": framework_extras.__version__,
        "builtin": False,
        "hooks": [
            "framework_config_dirs",
            "framework_register_callbacks",
            "framework_register_datasets",
            "framework_register_layers",
            "framework_register_optimizers",
        ],
        "config_dirs": [str(CONFIG_DIR)],
    }
    contributed = {
        (kind, entry["name"])
        for kind, entries in json_listing["registries"].items()
        for entry in entries
        if entry["plugin"] == "extras"
    }
    assert contributed == {("layer", "swish"), ("optimizer", "lion"), ("callback", "timer"), ("dataset", "moons")}


def test_broken_plugin_is_one_line_on_stderr_and_exit_1(make_distribution):
    dist = make_distribution(
        "raise ImportError('no numpy here')\n", entry_point="broken", name="broken-dist", version="0.1"
    )
    for args in ((), ("--json",)):
        result = run_cli(*args, pythonpath=dist.site)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            f"error: Error importing plugin \"broken\" (entry point '{dist.module}' of broken-dist 0.1): "
            "ImportError: no numpy here; fix or reinstall broken-dist (pip install --force-reinstall broken-dist), "
            "uninstall it, or block it: FRAMEWORK_DISABLE_PLUGINS=broken\n"
        )


def test_broken_plugin_can_be_blocked_from_the_environment(make_distribution):
    dist = make_distribution("raise ImportError('no numpy here')\n", entry_point="broken")
    result = run_cli("--json", pythonpath=dist.site, FRAMEWORK_DISABLE_PLUGINS="broken")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["blocked"] == ["broken"]


# -- in process: the options, and multi-line errors made one line -------------------


def test_no_autoload_option(make_distribution, capsys):
    make_distribution("raise ImportError('no numpy here')\n", entry_point="broken")
    assert main(["--no-autoload", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [plugin["name"] for plugin in data["plugins"]] == list(BUILTIN_PLUGINS)


def test_disable_option(capsys):
    assert main(["--disable", "framework.builtin.schedules", "--disable", "extras", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["registries"]["schedule"] == []
    assert data["blocked"] == ["extras", "framework.builtin.schedules"]
    assert "framework.builtin.schedules" not in [plugin["name"] for plugin in data["plugins"]]


def test_text_listing_marks_blocked_and_empty_kinds(capsys):
    assert main(["--disable", "framework.builtin.schedules"]) == 0
    out = capsys.readouterr().out
    assert "Blocked: framework.builtin.schedules" in out
    assert "schedule (0):\n  (none)" in out


def test_multi_line_error_is_printed_on_one_line(make_distribution, capsys):
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
    assert main([]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: plugin 'argful' (argful-dist 3.1) could not be registered: ")
    assert "{'config'}" in captured.err


def test_a_builtin_name_a_plugin_registers_too_is_listed_as_a_collision(make_distribution, capsys):
    source = """
        from framework import Optimizer, hookimpl

        class Copy(Optimizer):
            name = "sgd"

        @hookimpl
        def framework_register_optimizers():
            return [Copy]
        """
    make_distribution(source, entry_point="copycat", name="copycat-dist", version="1.0")
    assert main(["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {
        "kind": "optimizer",
        "name": "sgd",
        "qualified": ["copycat:sgd", "framework:sgd"],
        "bare": "framework:sgd",
    } in (data["collisions"])
    copy = next(entry for entry in data["registries"]["optimizer"] if entry["qualified"] == "copycat:sgd")
    assert copy["bare"] is False and copy["name"] == "sgd"
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "  sgd      copycat:sgd        copycat [copycat-dist 1.0]  (not 'sgd': see below)" in out
    assert "optimizer 'sgd': copycat:sgd, framework:sgd (the bare name means framework:sgd)" in out


def test_missing_config_dir_is_an_error(make_distribution, capsys):
    make_distribution(
        """
        from framework import hookimpl

        @hookimpl
        def framework_config_dirs():
            return ["/nonexistent/conf"]
        """,
        entry_point="confless",
        name="confless-dist",
        version="1.0",
    )
    assert main([]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: plugin 'confless' (confless-dist 1.0): config directory /nonexistent/conf "
        "from framework_config_dirs does not exist; fix or reinstall confless-dist (pip install --force-reinstall "
        "confless-dist), uninstall it, or block it: FRAMEWORK_DISABLE_PLUGINS=confless\n"
    )
