"""The package as a plugin: found through its entry point, its names registered with
their origin, its config files shipped and consistent with the classes."""

from importlib.resources import files

import pytest
from framework.plugins import build_plugins
from omegaconf import OmegaConf

import framework_extras
from framework_extras import Lion, Moons, Swish, Timer
from framework_extras.plugin import CONFIG_DIR

CONTRIBUTED = {"layer": Swish, "optimizer": Lion, "callback": Timer, "dataset": Moons}
#: Hydra config group -> registry kind.
GROUP_KINDS = {"optimizer": "optimizer", "data": "dataset", "loss": "loss", "schedule": "schedule"}


@pytest.fixture(scope="module")
def plugins():
    return build_plugins()


@pytest.mark.parametrize("kind", sorted(CONTRIBUTED))
def test_registered_through_the_entry_point(plugins, kind):
    cls = CONTRIBUTED[kind]
    assert plugins.get(kind, cls.name) is cls
    origin = plugins.registry(kind).origin(cls.name)
    assert (origin.plugin, origin.distribution, origin.version) == (
        "extras",
        "framework-extras",
        framework_extras.__version__,
    )


def test_hooks_and_config_dir(plugins):
    assert plugins.plugin_hooks("extras") == [
        "framework_config_dirs",
        "framework_register_callbacks",
        "framework_register_datasets",
        "framework_register_layers",
        "framework_register_optimizers",
    ]
    assert CONFIG_DIR in plugins.config_dirs()
    assert CONFIG_DIR.is_absolute()


def test_config_files_are_package_data():
    conf = files("framework_extras") / "conf"
    assert (conf / "optimizer" / "lion.yaml").is_file()
    assert (conf / "data" / "moons.yaml").is_file()


def config_files():
    return sorted(CONFIG_DIR.glob("*/*.yaml"))


def test_ships_the_expected_config_files():
    assert [f"{path.parent.name}/{path.name}" for path in config_files()] == ["data/moons.yaml", "optimizer/lion.yaml"]


@pytest.mark.parametrize("path", config_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_config_file_builds_its_component_and_round_trips(plugins, path):
    # Interpolations point into the framework's primary config (``dtype: ${model.dtype}``).
    root = OmegaConf.create({"model": {"dtype": "float32"}, "node": OmegaConf.load(path)})
    config = OmegaConf.to_container(root, resolve=True)["node"]
    kind = GROUP_KINDS[path.parent.name]
    assert config["name"] == path.stem, "a config group file is named after the registry name it selects"
    cls = plugins.get(kind, config.pop("name"))
    component = cls(**config)
    assert component.get_config() == config, "every key is a constructor argument, every argument has a key"


def test_blocked_by_name(monkeypatch):
    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGINS", "extras")
    plugins = build_plugins()
    for kind, cls in CONTRIBUTED.items():
        assert cls.name not in plugins.registry(kind)
    assert CONFIG_DIR not in plugins.config_dirs()


def test_every_config_file_composes_and_trains_one_epoch(tmp_path, monkeypatch):
    from framework.testing import check_config_files

    from framework_extras.plugin import CONFIG_DIR

    monkeypatch.chdir(tmp_path)
    assert check_config_files(CONFIG_DIR, "data=moons", "data.n_samples=64") == ["data=moons", "optimizer=lion"]
