"""Every code block of docs/plugins.md works as written: a block that names a file of
the repository is that file, word for word; every other Python block runs (in order,
in one namespace, as a reader would paste them), and the tests it defines pass; every
YAML config block builds the class of its ``name`` with exactly its keys."""

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from framework.plugins.construct import construct

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "plugins.md"
BLOCK = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.S | re.M)
FILE_HEADER = re.compile(r"^# (plugins/\S+)\n")


def blocks(language: str) -> list[str]:
    return [textwrap.dedent(body) for _, lang, body in BLOCK.findall(DOCS.read_text()) if lang == language]


def file_blocks() -> list[tuple[str, str]]:
    found = []
    for language in ("python", "toml", "yaml"):
        for body in blocks(language):
            header = FILE_HEADER.match(body)
            if header:
                found.append((header.group(1), body[header.end() :]))
    return found


@pytest.mark.parametrize(("path", "text"), file_blocks(), ids=[path for path, _ in file_blocks()])
def test_a_block_that_names_a_file_is_that_file(path, text):
    assert text == (REPO / path).read_text(), f"docs/plugins.md: the block headed {path} differs from the file"


def test_the_docs_show_the_example_packages_files():
    shown = {path for path, _ in file_blocks()}
    assert "plugins/framework-contrib/pyproject.toml" in shown
    assert any(path.endswith("layers.py") for path in shown) and any(path.endswith("metrics.py") for path in shown)


@pytest.fixture(scope="module")
def namespace():
    """The Python blocks that are not files, run in order in one namespace."""
    names: dict = {"__name__": "docs_plugins"}
    for body in blocks("python"):
        if not FILE_HEADER.match(body):
            exec(compile(body, str(DOCS), "exec"), names)
    return names


def test_every_python_block_runs_and_its_tests_pass(namespace):
    assert {"Swish", "Lion", "Circles", "MaxAbsError", "Timer", "framework_register_layers"} <= set(namespace)
    tests = [function for name, function in namespace.items() if name.startswith("test_") and callable(function)]
    for test in tests:
        test()


def documented_classes(namespace) -> dict[str, type]:
    return {value.name: value for value in namespace.values() if isinstance(value, type) and getattr(value, "name", "")}


def test_every_documented_class_registers_through_its_hook(namespace):
    from framework.plugins import build_plugins

    module = type("DocsPlugin", (), {})()
    for name, value in namespace.items():
        if name.startswith("framework_register_"):
            setattr(module, name, value)
    plugins = build_plugins(autoload=False, extra=[module])
    assert "lion" in plugins.registry("optimizer") and "swish" in plugins.registry("layer")


def test_every_yaml_config_builds_the_documented_class_of_its_name(namespace):
    classes = documented_classes(namespace)
    configs = [yaml.safe_load(body) for body in blocks("yaml")]
    checked = 0
    for config in configs:
        if isinstance(config, dict) and config.get("name") in classes:
            arguments = {key: value for key, value in config.items() if key != "name"}
            construct(classes[config["name"]], arguments, f"docs yaml {config['name']}")
            checked += 1
    assert checked >= 1


KIT = {
    "swish": "check_layer",
    "lion": "check_optimizer",
    "linear": "check_schedule",
    "stop_at_loss": "check_callback",
    "timer": "check_callback",
    "circles": "check_dataset",
    "max_abs_error": "check_metric",
}


@pytest.mark.parametrize("name", list(KIT))
def test_each_complete_example_class_passes_the_kit(namespace, name):
    import framework.testing

    cls = documented_classes(namespace)[name]
    check = getattr(framework.testing, KIT[name])
    check(cls) if check is framework.testing.check_optimizer else check(cls())
