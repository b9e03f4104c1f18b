"""Every option of every config group, and every experiment preset, composes and
trains for one epoch on tiny data through the same path as the command."""

import numpy as np
import pytest

from framework.command import train

from .conftest import TINY, experiments, group_options

# Options that need a companion to make sense (a loss that needs two classes, ...).
COMPANIONS = {
    ("loss", "binary_cross_entropy"): ["data=xor"],
    ("loss", "cross_entropy"): ["model.output_activation=softmax"],
    ("model", "cnn"): ["data.flatten=false"],
    ("schedule", "reduce_on_plateau"): ["schedule.patience=0"],
    # a store inside the test's directory, never in the checkout the tests run from
    ("logger", "mlflow"): ["logger.tracking_uri=sqlite:///${output_dir}/mlflow.db", "logger.log_model=false"],
}


@pytest.mark.parametrize(
    ("group", "option"),
    [
        (group, option)
        for group in ("model", "optimizer", "loss", "data", "trainer", "schedule", "callbacks", "logger")
        for option in group_options(group)
    ],
)
def test_every_config_option_trains_for_one_epoch(group, option, compose_config, data_overrides, tmp_path):
    overrides = [f"{group}={option}", *TINY, *COMPANIONS.get((group, option), [])]
    if group == "data":
        overrides += data_overrides.get(option, [])
    if group == "callbacks" and option != "default":
        overrides.remove("callbacks.progress=null")
    result = train(compose_config(*overrides), log=lambda *_: None)
    assert np.isfinite(result.value)
    assert len(result.history) == 1
    assert (tmp_path / "weights.npz").is_file() and (tmp_path / "history.npz").is_file()


@pytest.mark.parametrize("experiment", experiments())
def test_every_experiment_runs_for_one_epoch(experiment, compose_config, data_overrides):
    cfg = compose_config(f"+experiment={experiment}")
    overrides = data_overrides.get(cfg.data.name, [])
    result = train(compose_config(f"+experiment={experiment}", *TINY, *overrides), log=lambda *_: None)
    assert np.isfinite(result.value)


def test_notebook_000_preset_is_full_batch_sgd(compose_config):
    cfg = compose_config("+experiment=notebook_000", "trainer.epochs=2", "callbacks.progress=null")
    result = train(cfg, log=lambda *_: None)
    assert result.trainer.global_step == 2  # full batch: one step per epoch
    assert result.trainer.optimizer.lr == 0.1 and result.trainer.optimizer.name == "sgd"
    assert [layer.name for layer in result.trainer.model.layers] == ["dense", "relu", "dense", "relu", "dense"]


def test_the_default_run_learns_digits(compose_config):
    result = train(compose_config("callbacks.progress=null", "trainer.epochs=10"), log=lambda *_: None)
    assert result.history.test["test_accuracy"] > 0.9
    assert result.monitor == "val_loss" and result.value == result.history.last()["val_loss"]
