"""Two installed plugins that chose the same names: a layer, an optimizer, a metric, a dataset
and config options. Each works alone; together, every run that does not use a shared bare
name is unaffected, qualified names (``alpha:scale``) pick either, a shared bare name is
refused where it is used, listings show the collisions and a resume picks the class the
checkpoint was trained with."""

import json
import re
import textwrap
from importlib.util import find_spec

import numpy as np
import pytest

from framework.plugins import default_plugins
from framework.plugins.__main__ import main as list_plugins
from framework.training.checkpoint import read_checkpoint

SHARED = {"layer": "scale", "optimizer": "momentum", "metric": "hits", "dataset": "dots"}

PLUGIN_SOURCE = """
from pathlib import Path

from framework import Layer, hookimpl
from framework.core.metrics import Accuracy
from framework.core.optimizers import SGD
from framework.data.synthetic import XOR

FACTOR = {factor}


class Scale(Layer):
    name = "scale"

    def __init__(self, factor: float = FACTOR):
        super().__init__()
        self.factor = factor

    def build(self, input_shape, rng):
        return input_shape

    def forward(self, x, training=False):
        return x * self.dtype.type(self.factor)

    def backward(self, grad):
        return grad * self.dtype.type(self.factor)

    def get_config(self):
        return {{"factor": self.factor}}


class Momentum(SGD):
    name = "momentum"


class Hits(Accuracy):
    name = "hits"


class Dots(XOR):
    name = "dots"


@hookimpl
def framework_register_layers():
    return [Scale]


@hookimpl
def framework_register_optimizers():
    return [Momentum]


@hookimpl
def framework_register_metrics():
    return [Hits]


@hookimpl
def framework_register_datasets():
    return [Dots]


@hookimpl
def framework_config_dirs():
    return [{conf!r}]
"""

CONFIG_FILES = {
    "optimizer/momentum.yaml": "name: momentum\nlr: 0.05\nmomentum: 0.9\n",
    "data/dots.yaml": "name: dots\nn_samples: 64\n",
    # Names the plugin's own layer and the built-in dense: only the first is qualified on reading.
    "model/scale_mlp.yaml": "type: sequential\nlayers:\n  - {name: dense, units: 8}\n  - {name: scale}\n"
    "  - {name: dense, units: 2}\ndtype: float32\n",
}
#: The shared optimizer named bare, with the settings of the plugins' own option file.
SGD_MOMENTUM = ("optimizer=sgd", "optimizer.name=momentum", "optimizer.lr=0.05", "optimizer.momentum=0.9")
TINY = ["trainer.epochs=1", "logger=none", "callbacks.progress=null", "data=xor", "data.n_samples=64"]


@pytest.fixture
def install(make_distribution, tmp_path):
    """``install("alpha", factor)``: a plugin distribution ``<name>-dist`` with entry point
    ``<name>`` registering the shared names and shipping the shared config options. The
    process's plugins are built afresh before and after the test (tests installing other
    packages take this fixture for that too)."""

    def make(name: str, factor: float, extra_files: dict | None = None):
        conf = tmp_path / f"{name}_conf"
        for relative, text in {**CONFIG_FILES, **(extra_files or {})}.items():
            (conf / relative).parent.mkdir(parents=True, exist_ok=True)
            (conf / relative).write_text(text)
        source = PLUGIN_SOURCE.format(factor=factor, conf=str(conf))
        dist = make_distribution(textwrap.dedent(source), entry_point=name, name=f"{name}-dist", version="1.0")
        default_plugins.cache_clear()
        return dist

    default_plugins.cache_clear()
    yield make
    default_plugins.cache_clear()


@pytest.fixture
def both(install):
    return install("alpha", 2.0), install("beta", 3.0)


def compose(*overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from framework.command.paths import conf_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
        return hydra_compose("config", overrides=list(overrides))


def run(tmp_path, *overrides):
    from framework.command import train

    output = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
    return train(compose(*TINY, f"output_dir={output}", *overrides), log=lambda *_: None)


def module_of(component) -> str:
    return type(component).__module__


# -- the Python API -------------------------------------------------------------------


def test_each_plugin_alone_owns_the_bare_names(install):
    alpha = install("alpha", 2.0)
    plugins = default_plugins()
    for kind, name in SHARED.items():
        assert plugins.get(kind, name) is plugins.get(kind, f"alpha:{name}")
        assert plugins.get(kind, name).__module__ == alpha.module


def test_qualified_names_reach_each_plugins_class_and_the_builtins(both):
    alpha, beta = both
    plugins = default_plugins()
    for kind, name in SHARED.items():
        assert plugins.get(kind, f"alpha:{name}").__module__ == alpha.module
        assert plugins.get(kind, f"beta:{name}").__module__ == beta.module
        assert name not in plugins.registry(kind)
        assert plugins.registry(kind).collisions()[name] == [f"alpha:{name}", f"beta:{name}"]
    assert plugins.get("optimizer", "framework:adam") is plugins.get("optimizer", "adam")


def test_an_unknown_plugin_in_a_qualified_name_suggests_the_closest(both):
    from framework.plugins import UnknownNameError

    with pytest.raises(
        UnknownNameError, match=r"^Unknown optimizer 'alpah:momentum'\. Did you mean 'alpha:momentum'\?"
    ):
        default_plugins().get("optimizer", "alpah:momentum")


# -- runs -----------------------------------------------------------------------------


def test_a_run_that_uses_no_shared_name_is_unaffected(both, tmp_path):
    result = run(tmp_path)
    assert result.trainer.optimizer.name == "adam" and np.isfinite(result.value)


def test_qualified_names_in_every_place_a_config_names_a_component(both, tmp_path):
    alpha, beta = both
    result = run(
        tmp_path,
        "optimizer=sgd",
        "optimizer.name=beta:momentum",
        "data.name=alpha:dots",
        "model=sequential",
        "model.layers=[{name: dense, units: 8}, {name: 'beta:scale'}, alpha:scale, {name: dense, units: 2}]",
        "trainer.metrics=[alpha:hits, beta:hits]",
    )
    trainer = result.trainer
    assert module_of(trainer.optimizer) == beta.module
    assert [module_of(layer) for layer in trainer.model.layers[1:3]] == [beta.module, alpha.module]
    assert [module_of(metric) for metric in trainer.metrics] == [alpha.module, beta.module]
    assert 0.0 <= result.history.last()["hits"] <= 1.0


@pytest.mark.parametrize(
    ("overrides", "key", "kind", "name"),
    [
        (["optimizer.name=momentum"], "optimizer.name", "optimizer", "momentum"),
        (["data.name=dots"], "data.name", "dataset", "dots"),
        (
            ["model=sequential", "model.layers=[{name: dense, units: 2}, scale]"],
            "model.layers[1]",
            "layer",
            "scale",
        ),
        (["model.activation=scale"], "model.activation", "layer", "scale"),
        (["trainer.metrics=[accuracy, {name: hits}]"], "trainer.metrics[1].name", "metric", "hits"),
    ],
)
def test_a_shared_bare_name_is_refused_where_it_is_used_before_data_loads(
    both, tmp_path, monkeypatch, overrides, key, kind, name
):
    from framework.core.errors import ConfigError
    from framework.data import Dataset

    monkeypatch.setattr(Dataset, "load", lambda *_: pytest.fail("the data loaded before the name was checked"))
    with pytest.raises(ConfigError) as caught:
        run(tmp_path, *overrides)
    assert str(caught.value) == (
        f"{key}={name!r}: {kind} name {name!r} is registered by 2 plugins, so it is ambiguous; "
        f"write the qualified name: alpha:{name} or beta:{name}"
    )


# -- config group options -------------------------------------------------------------


@pytest.mark.parametrize("group, option", [("optimizer", "momentum"), ("data", "dots"), ("model", "scale_mlp")])
def test_a_shared_option_is_chosen_by_its_qualified_name_and_names_its_own_classes(both, group, option):
    cfg = compose(f"{group}=beta:{option}")
    node = cfg[group]
    if group == "model":
        assert [layer["name"] for layer in node.layers] == ["dense", "beta:scale", "dense"]
    else:
        assert node.name == f"beta:{SHARED['optimizer' if group == 'optimizer' else 'dataset']}"


def test_a_shared_option_by_its_bare_name_is_one_line_with_the_choices(both, capsys, monkeypatch):
    import sys

    from framework.command.entry import main

    monkeypatch.setattr(sys, "argv", ["framework.train", "model=scale_mlp", *TINY])
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2
    assert capsys.readouterr().err == (
        "error: model=scale_mlp: 2 plugins ship a model option 'scale_mlp', so it is ambiguous; choose one by its "
        "qualified name: model=alpha:scale_mlp or model=beta:scale_mlp\n"
    )


def test_an_option_one_plugin_ships_keeps_its_bare_name(both, install, tmp_path):
    gamma = install("gamma", 5.0, {"optimizer/gamma_only.yaml": "name: momentum\nlr: 0.02\n"})
    cfg = compose("optimizer=gamma_only")
    assert cfg.optimizer.name == "gamma:momentum"
    result = run(tmp_path, "optimizer=gamma_only")
    assert module_of(result.trainer.optimizer) == gamma.module


def test_a_plugin_option_named_like_a_project_option_leaves_the_project_its_name(install):
    install("alpha", 2.0, {"model/mlp.yaml": "type: sequential\nlayers: [{name: dense, units: 2}]\ndtype: float32\n"})
    assert compose("model=mlp").model.type == "mlp"
    assert compose("model=alpha:mlp").model.type == "sequential"


# -- listings -------------------------------------------------------------------------


def test_the_plugin_listing_shows_the_collisions_and_the_qualified_names(both, capsys):
    assert list_plugins(["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    collisions = {(entry["kind"], entry["name"]): entry for entry in data["collisions"]}
    for kind, name in SHARED.items():
        assert collisions[kind, name] == {
            "kind": kind,
            "name": name,
            "qualified": [f"alpha:{name}", f"beta:{name}"],
            "bare": None,
        }
    for group, option in (("data", "dots"), ("model", "scale_mlp"), ("optimizer", "momentum")):
        assert collisions["config option", f"{group}/{option}"]["qualified"] == [f"alpha:{option}", f"beta:{option}"]
    assert list_plugins([]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\n  scale +alpha:scale +alpha \[alpha-dist 1\.0\]  \(not 'scale': see below\)\n", out)
    assert "layer 'scale': alpha:scale, beta:scale (the bare name ambiguous: write a qualified name)" in out
    assert "config option 'model/scale_mlp': alpha:scale_mlp, beta:scale_mlp" in out


def test_help_shows_the_qualified_options(both, capsys, monkeypatch):
    import sys

    from framework.command.entry import main

    monkeypatch.setattr(sys, "argv", ["framework.train", "--help"])
    with pytest.raises(SystemExit):
        main()
    out = capsys.readouterr().out
    assert "Plugins' options are also <plugin>:<option>; one that two plugins ship is listed only so" in out
    options = {group: option_list.split(", ") for group, option_list in re.findall(r"^(\w+): (.+)$", out, re.M)}
    for group, option in (("optimizer", "momentum"), ("data", "dots"), ("model", "scale_mlp")):
        assert {f"alpha:{option}", f"beta:{option}"} <= set(options[group]) and option not in options[group]
    assert {"adam", "sgd"} <= set(options["optimizer"]) and {"mlp", "sequential"} <= set(options["model"])


# -- checkpoints and resume -----------------------------------------------------------


def test_a_checkpoint_records_qualified_names_and_a_resume_picks_the_same_class(install, tmp_path):
    alpha = install("alpha", 2.0)
    first = run(tmp_path, "optimizer=momentum", "data=dots", "trainer.epochs=1")
    last = first.output_dir / "checkpoints" / "last.npz"
    components = read_checkpoint(last).manifest["components"]
    assert components["optimizer"]["qualified"] == "alpha:momentum"
    assert components["data"]["qualified"] == "alpha:dots"
    assert components["loss"]["qualified"] == "framework:softmax_cross_entropy"

    install("beta", 3.0)  # installed since: "momentum" and "dots" are no longer unique
    resumed = run(tmp_path, *SGD_MOMENTUM, "data.name=dots", "trainer.epochs=2", f"trainer.resume={last}")
    assert module_of(resumed.trainer.optimizer) == alpha.module
    assert resumed.history["epoch"][-1] == 2


def test_a_resume_picks_the_recorded_layers_and_metrics(install, tmp_path):
    alpha = install("alpha", 2.0)
    model = ("model=sequential", "model.layers=[{name: dense, units: 8}, scale, {name: dense, units: 2}]")
    first = run(tmp_path, *model, "trainer.metrics=[{name: hits}]")
    last = first.output_dir / "checkpoints" / "last.npz"
    components = read_checkpoint(last).manifest["components"]
    assert components["model.layers[1]"] == {
        "kind": "layer",
        "name": "scale",
        "distribution": "alpha-dist",
        "version": "1.0",
        "qualified": "alpha:scale",
    }
    assert components["model.layers[0]"]["qualified"] == "framework:dense"
    assert components["trainer.metrics[0]"]["qualified"] == "alpha:hits"

    install("beta", 3.0)
    resumed = run(tmp_path, *model, "trainer.metrics=[{name: hits}]", "trainer.epochs=2", f"trainer.resume={last}")
    assert module_of(resumed.trainer.model.layers[1]) == alpha.module
    assert module_of(resumed.trainer.metrics[0]) == alpha.module
    assert resumed.trainer.run.config["model"]["layers"][1] == "alpha:scale"


def test_a_resume_refuses_a_qualified_name_other_than_the_recorded_one(install, tmp_path):
    from framework.core.errors import ConfigError

    install("alpha", 2.0)
    first = run(tmp_path, "optimizer=momentum")
    last = first.output_dir / "checkpoints" / "last.npz"
    install("beta", 3.0)
    with pytest.raises(ConfigError) as caught:
        run(tmp_path, *SGD_MOMENTUM, "optimizer.name=beta:momentum", "trainer.epochs=2", f"trainer.resume={last}")
    assert str(caught.value) == (
        f"optimizer.name=beta:momentum: the checkpoint trainer.resume={last} was trained with optimizer "
        "alpha:momentum; resume with optimizer.name=alpha:momentum, or start a new run without trainer.resume"
    )


def test_an_old_checkpoint_with_bare_names_resumes_while_the_name_is_unique(install, tmp_path):
    alpha = install("alpha", 2.0)
    first = run(tmp_path, "optimizer=momentum")
    last = first.output_dir / "checkpoints" / "last.npz"
    arrays = dict(np.load(last))
    manifest = json.loads(str(arrays["manifest"]))
    for entry in manifest["components"].values():
        entry.pop("qualified")
    old = tmp_path / "old.npz"
    np.savez(old, **{**arrays, "manifest": np.array(json.dumps(manifest))})

    resumed = run(tmp_path, *SGD_MOMENTUM, "trainer.epochs=2", f"trainer.resume={old}")
    assert module_of(resumed.trainer.optimizer) == alpha.module

    install("beta", 3.0)  # now the bare name is the config's to settle, by a qualified name
    resumed = run(tmp_path, *SGD_MOMENTUM, "optimizer.name=alpha:momentum", "trainer.epochs=2", f"trainer.resume={old}")
    assert module_of(resumed.trainer.optimizer) == alpha.module


# -- the conformance kit --------------------------------------------------------------


def test_the_conformance_kit_checks_each_plugin_installed_beside_the_other(both, tmp_path):
    from framework.testing import check_config_files, check_dataset, check_layer, check_metric, check_optimizer

    plugins = default_plugins()
    for namespace in ("alpha", "beta"):
        check_layer(plugins.get("layer", f"{namespace}:scale")(), input_shape=(3,))
        check_optimizer(plugins.get("optimizer", f"{namespace}:momentum"), lr=0.05)
        check_metric(plugins.get("metric", f"{namespace}:hits")())
        check_dataset(plugins.get("dataset", f"{namespace}:dots")(n_samples=32))
        options = check_config_files(tmp_path / f"{namespace}_conf", "data=xor", "data.n_samples=64")
        assert options == ["data=dots", "model=scale_mlp", "optimizer=momentum"]


# -- built-ins ------------------------------------------------------------------------

REPLACING_SOURCE = """
from framework import hookimpl
from framework.core.layers import Dense
from framework.core.optimizers import SGD


class FastDense(Dense):
    replaces_builtin = {replaces}


class Sgd(SGD):
    pass


@hookimpl
def framework_register_layers():
    return [FastDense]


@hookimpl
def framework_register_optimizers():
    return [Sgd]
"""


def install_dense(make_distribution, name: str, replaces: bool):
    source = textwrap.dedent(REPLACING_SOURCE.format(replaces=replaces))
    dist = make_distribution(source, entry_point=name, name=f"{name}-dist", version="1.0")
    default_plugins.cache_clear()
    return dist


def test_a_builtin_keeps_its_bare_name_unless_a_plugin_replaces_it_explicitly(make_distribution, install, tmp_path):
    from framework.core.layers import Dense
    from framework.core.optimizers import SGD

    install_dense(make_distribution, "lookalike", replaces=False)
    plugins = default_plugins()
    assert plugins.get("layer", "dense") is Dense and plugins.get("optimizer", "sgd") is SGD
    assert plugins.get("layer", "lookalike:dense") is not Dense

    faster = install_dense(make_distribution, "faster", replaces=True)
    plugins = default_plugins()
    assert plugins.get("layer", "dense").__module__ == faster.module
    assert plugins.get("layer", "framework:dense") is Dense
    assert plugins.get("optimizer", "sgd") is SGD  # only the class that says so replaces
    result = run(tmp_path)  # the MLP shorthand's dense layers are the replacement's
    assert {module_of(layer) for layer in result.trainer.model.layers if layer.name == "dense"} == {faster.module}
    assert list_plugins(["--json"]) == 0


def test_two_replacements_of_one_builtin_make_its_bare_name_ambiguous(make_distribution, install, capsys):
    from framework.plugins import AmbiguousNameError

    install_dense(make_distribution, "faster", replaces=True)
    install_dense(make_distribution, "fastest", replaces=True)
    with pytest.raises(AmbiguousNameError, match=r"write the qualified name: faster:dense or fastest:dense$"):
        default_plugins().get("layer", "dense")
    assert list_plugins([]) == 0
    assert "layer 'dense': faster:dense, fastest:dense, framework:dense (the bare name ambiguous" in (
        capsys.readouterr().out
    )


# -- the case: a newcomer beside the contrib example ---------------------------

NEWCOMER_SOURCE = """
from framework import hookimpl
from framework.core.layers import Dense
from framework.core.metrics import Accuracy
from framework.core.optimizers import SGD


class LayerNorm(Dense):
    name = "layer_norm"


class Adagrad(SGD):
    name = "adagrad"


class MacroF1(Accuracy):
    name = "macro_f1"


@hookimpl
def framework_register_layers():
    return [LayerNorm]


@hookimpl
def framework_register_optimizers():
    return [Adagrad]


@hookimpl
def framework_register_metrics():
    return [MacroF1]
"""


@pytest.mark.skipif(find_spec("framework_contrib") is None, reason="framework-contrib is not installed")
def test_a_newcomer_sharing_contribs_names_breaks_no_run(make_distribution, install, tmp_path):
    from framework.core.errors import ConfigError

    newcomer = make_distribution(textwrap.dedent(NEWCOMER_SOURCE), entry_point="newcomer", name="newcomer-dist")
    default_plugins.cache_clear()
    assert np.isfinite(run(tmp_path).value)  # uses none of the shared names
    # contrib's option file names contrib's class; newcomer ships no optimizer/adagrad.yaml
    assert module_of(run(tmp_path, "optimizer=adagrad").trainer.optimizer).startswith("framework_contrib")
    chosen = run(tmp_path, "optimizer=sgd", "optimizer.name=newcomer:adagrad", "trainer.metrics=[contrib:macro_f1]")
    assert module_of(chosen.trainer.optimizer) == newcomer.module
    assert module_of(chosen.trainer.metrics[0]).startswith("framework_contrib")
    with pytest.raises(
        ConfigError, match=r"^trainer\.metrics\[0\]='macro_f1': .* contrib:macro_f1 or newcomer:macro_f1$"
    ):
        run(tmp_path, "trainer.metrics=[macro_f1]")


def test_a_resume_keeps_the_builtin_a_plugin_installed_since_replaces(make_distribution, install, tmp_path):
    from framework.core.layers import Dense

    model = ("model=sequential", "model.layers=[{name: dense, units: 8}, relu, {name: dense, units: 2}]")
    first = run(tmp_path, *model)
    last = first.output_dir / "checkpoints" / "last.npz"
    faster = install_dense(make_distribution, "faster", replaces=True)
    fresh = run(tmp_path, *model)
    assert {module_of(layer) for layer in fresh.trainer.model.layers if layer.name == "dense"} == {faster.module}
    resumed = run(tmp_path, *model, "trainer.epochs=2", f"trainer.resume={last}")
    assert [type(layer) for layer in resumed.trainer.model.layers if layer.name == "dense"] == [Dense, Dense]


def test_a_logged_model_loads_the_recorded_layers_after_a_plugin_shares_their_names(install, tmp_path):
    from framework.tracking import pyfunc

    alpha = install("alpha", 2.0)
    first = run(tmp_path, "model=sequential", "model.layers=[{name: dense, units: 8}, scale, {name: dense, units: 2}]")
    model_dir = pyfunc.write_model_files(first.trainer.model, tmp_path / "logged", plugins=default_plugins())
    config = json.loads((model_dir / pyfunc.CONFIG_FILE).read_text())
    assert [layer["name"] for layer in config["model"]["layers"]] == [
        "framework:dense",
        "alpha:scale",
        "framework:dense",
    ]

    install("beta", 3.0)  # "scale" alone is now ambiguous
    loaded = pyfunc.build_model(config["model"])
    loaded.load_weights(model_dir / pyfunc.WEIGHTS_FILE)
    assert module_of(loaded.layers[1]) == alpha.module
    x = np.ones((4, 2), dtype=np.float32)
    assert np.array_equal(loaded.predict(x), first.trainer.model.predict(x))
