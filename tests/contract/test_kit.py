"""The conformance kit covers every kind of component with one call, and each check
can fail: it passes the framework's own components and refuses a broken one."""

from pathlib import Path

import numpy as np
import pytest

import framework as fw
from framework.data import XOR, Blobs
from framework.testing import (
    check_callback,
    check_config_files,
    check_dataset,
    check_layer,
    check_loss,
    check_metric,
    check_schedule,
)
from framework.training.callbacks import EarlyStopping, ModelCheckpoint, NaNGuard
from framework.training.schedules import CosineWithWarmup, ReduceOnPlateau, StepDecay

EXTRAS_CONF = Path(__file__).resolve().parents[2] / "plugins/framework-extras/src/framework_extras/conf"


@pytest.mark.parametrize(
    "layer",
    [fw.Dense(3), fw.ReLU(), fw.Tanh(), fw.Dropout(0.5), fw.BatchNorm(), fw.Conv2D(2, 3, padding="same"),
     fw.MaxPool2D(2), fw.AvgPool2D(2), fw.GlobalAvgPool2D(), fw.Flatten()],
    ids=lambda layer: layer.name,
)  # fmt: skip
def test_check_layer_passes_the_builtin_layers(layer):
    """Image layers too, on their channels-first example shape."""
    check_layer(layer)


class AddsToGrad(fw.Layer):
    name = "adds_to_grad"

    def build(self, input_shape, rng):
        self.add_parameter("scale", input_shape, fw.Ones())
        return input_shape

    def forward(self, x, training=False):
        self.x = x
        return x * self.parameters["scale"].value

    def backward(self, grad):
        self.parameters["scale"].grad[...] += (grad * self.x).sum(axis=0)
        return grad * self.parameters["scale"].value


def test_check_layer_refuses_a_layer_that_adds_to_its_gradient():
    with pytest.raises(
        AssertionError, match=r"AddsToGrad \('adds_to_grad'\): backward adds to 0\.adds_to_grad\.scale\.grad"
    ):
        check_layer(AddsToGrad())


def test_check_loss_passes_a_builtin_loss():
    check_loss(fw.SoftmaxCrossEntropy())


@pytest.mark.parametrize("metric", [fw.Accuracy(), fw.TopKAccuracy(k=2), fw.MeanSquaredError()])
def test_check_metric_passes_the_builtin_metrics(metric):
    check_metric(metric)


class LiveState(fw.Metric):
    name = "live_state"
    state_names = ("hits",)

    def reset(self):
        self.hits = np.zeros(2)

    def update(self, pred, target):
        self.hits += 1

    def result(self):
        return float(self.hits.sum())

    def state_dict(self):
        return {"hits": self.hits}


class ForgetsCount(fw.Metric):
    name = "forgets_count"
    state_names = ("total",)

    def update(self, pred, target):
        self.total += float(pred.sum())
        self.count += len(pred)


@pytest.mark.parametrize(
    ("metric", "problem"),
    [(LiveState(), "returns the live state"), (ForgetsCount(), "resuming from state_dict\\(\\) after 2 batches")],
)
def test_check_metric_refuses_a_broken_state(metric, problem):
    with pytest.raises(AssertionError, match=problem):
        check_metric(metric)


@pytest.mark.parametrize(
    "callback", [EarlyStopping(patience=1, restore_best_weights=True), NaNGuard()], ids=lambda c: c.name
)
def test_check_callback_passes_builtin_callbacks(callback):
    check_callback(callback)


def test_check_callback_runs_a_callback_that_writes_files(tmp_path):
    check_callback(ModelCheckpoint(directory=tmp_path / "checkpoints"))
    assert (tmp_path / "checkpoints" / "last.npz").exists()


class Misspelled(fw.Callback):
    name = "misspelled"

    def framework_fit_ends(self):
        pass


def test_check_callback_refuses_a_misspelled_hook():
    with pytest.raises(
        AssertionError, match=r"framework_fit_ends is not a lifecycle hook.*did you mean framework_fit_end"
    ):
        check_callback(Misspelled())


@pytest.mark.parametrize("dataset", [XOR(n_samples=60), Blobs(n_samples=60)], ids=lambda d: d.name)
def test_check_dataset_passes_builtin_datasets(dataset):
    check_dataset(dataset)


class GlobalRandom(XOR):
    name = "global_random"

    def raw(self, rng):
        return super().raw(np.random.default_rng())


def test_check_dataset_refuses_one_that_ignores_the_generator():
    with pytest.raises(AssertionError, match="the same seed gives another x_train"):
        check_dataset(GlobalRandom(n_samples=60))


@pytest.mark.parametrize("schedule", [StepDecay(), CosineWithWarmup(warmup_epochs=2), ReduceOnPlateau(patience=1)])
def test_check_schedule_passes_builtin_schedules(schedule):
    check_schedule(schedule)


class Negative(fw.Schedule):
    name = "negative"

    def value(self, epoch, base_lr, total_epochs):
        return base_lr * (1 - epoch)


def test_check_schedule_refuses_a_negative_rate():
    with pytest.raises(AssertionError, match=r"value\(1.25, 0.1, 10\) returned -0.025"):
        check_schedule(Negative())


def test_check_config_files_runs_each_option_of_a_plugin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_config_files(EXTRAS_CONF, "data=xor", "data.n_samples=64") == ["data=moons", "optimizer=lion"]


def test_check_config_files_names_an_option_that_does_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf" / "optimizer").mkdir(parents=True)
    (tmp_path / "conf" / "optimizer" / "slow_sgd.yaml").write_text("name: sgd\nlr: 0.1\nweight_decays: 0.1\n")
    with pytest.raises(AssertionError, match=r"^optimizer=slow_sgd \(from .*\): ConfigError: optimizer.weight_decays"):
        check_config_files(tmp_path / "conf", "data=xor")
