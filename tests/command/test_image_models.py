"""Image models through the command and the library: the cnn shorthand, one-line errors
naming config keys, the presets training, a bit-identical resume mid-epoch, and the
logged model taking images."""

import types

import numpy as np
import pytest
from mlflow.exceptions import MlflowException

from framework.command import train
from framework.core import (
    Adam,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
)
from framework.core.errors import ConfigError
from framework.plugins import default_plugins
from framework.plugins.build import layer_nodes
from framework.training.callbacks import ModelCheckpoint
from framework.training.trainer import Trainer
from tests.training.helpers import RaiseAt, assert_same_weights, without_seconds

QUIET = ["callbacks.progress=null", "trainer.epochs=1"]


def test_cnn_shorthand_expands_blocks_then_flatten_then_the_dense_head():
    config = {"type": "cnn", "conv": [[8, 5, 2], [16, 3]], "padding": "valid", "pool": "avg", "hidden": [32]}
    nodes = layer_nodes(default_plugins(), config, 10)
    assert [(path, node if isinstance(node, str) else node["name"]) for path, node in nodes] == [
        ("model.conv[0]", "conv2d"),
        ("model.activation", "relu"),
        ("model.conv[0]", "avg_pool2d"),
        ("model.conv[1]", "conv2d"),
        ("model.activation", "relu"),
        ("model.conv", "flatten"),
        ("model.hidden", "dense"),
        ("model.activation", "relu"),
        ("model.output", "dense"),
    ]
    assert nodes[0][1] == {"name": "conv2d", "filters": 8, "kernel_size": 5, "init": "he_normal", "padding": "valid"}
    assert nodes[2][1] == {"name": "avg_pool2d", "kernel_size": 2}


@pytest.mark.parametrize(
    "config, expected",
    [
        (
            {"conv": [[8, 3, 2], [16, 0]]},
            "model.conv[1]=[16, 0]: expected [filters, kernel] or [filters, kernel, pool]",
        ),
        ({"conv": []}, "model.conv=[]: give a non-empty list of [filters, kernel, pool] blocks"),
        ({"conv": [[8, 3]], "pool": "min"}, "model.pool='min': expected one of max, avg"),
    ],
)
def test_bad_cnn_shorthand_is_one_line_naming_the_key(config, expected):
    with pytest.raises(ConfigError) as caught:
        layer_nodes(default_plugins(), {"type": "cnn", **config}, 10)
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)


def test_dense_after_convolution_without_flatten_names_both_config_keys(compose_config):
    layers = "[{name:conv2d,filters:4,kernel_size:3},{name:max_pool2d},{name:dense,units:10}]"
    cfg = compose_config("model=sequential", f"model.layers={layers}", "data.flatten=false", *QUIET)
    with pytest.raises(ConfigError) as caught:
        train(cfg, log=lambda *_: None)
    message = str(caught.value)
    assert message.startswith("model.layers[2] (after model.layers[1]): cannot be built for data 'digits'")
    assert "layer 2 (Dense(units=10)) after layer 1 (MaxPool2D())" in message
    assert "put a flatten layer before it" in message and "\n" not in message


def test_sequential_model_lists_image_layers_by_name(compose_config):
    layers = (
        "[{name:conv2d,filters:4,kernel_size:3,padding:same,stride:2},{name:batch_norm},{name:relu},"
        "{name:avg_pool2d,kernel_size:2,stride:1},{name:global_avg_pool2d},{name:dense,units:10}]"
    )
    cfg = compose_config("model=sequential", f"model.layers={layers}", "data.flatten=false", *QUIET)
    result = train(cfg, log=lambda *_: None)
    assert [layer.output_shape for layer in result.trainer.model.layers] == [
        (4, 4, 4),
        (4, 4, 4),
        (4, 4, 4),
        (4, 3, 3),
        (4,),
        (10,),
    ]
    assert np.isfinite(result.value)


def test_cnn_on_flattened_data_says_to_keep_the_images(compose_config):
    with pytest.raises(ConfigError) as caught:
        train(compose_config("model=cnn", *QUIET), log=lambda *_: None)
    assert str(caught.value).startswith("model.conv[0]: cannot be built for data 'digits' with samples of shape (64,)")
    assert "load image data with data.flatten=false" in str(caught.value)


def test_the_digits_cnn_preset_learns_and_prints_image_shapes(compose_config):
    lines = []
    cfg = compose_config("+experiment=digits_cnn", "callbacks.progress=null", "trainer.epochs=4")
    result = train(cfg, log=lines.append)
    assert result.history.test["test_accuracy"] > 0.9
    summary = next(line for line in lines if "Conv2D" in str(line))
    assert "(None, 16, 8, 8)" in summary and "(None, 32, 2, 2)" in summary and "(None, 1, 8, 8)" in summary
    assert result.trainer.model.layers[0].weight.value.dtype == np.float32


# -- the library: resume and the logged model ----------------------------------------------


def image_data(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.normal(size=(n, 2, 6, 6)).astype(np.float32)
    x[np.arange(n), 0, y, y] += 3.0  # a learnable bright pixel per class
    return x, y


def image_trainer(directory, *extra, seed=0):
    rng = np.random.default_rng(seed)
    layers = [Conv2D(4, 3, padding="same"), BatchNorm(), ReLU(), MaxPool2D(2), Flatten(), Dropout(0.3), Dense(3)]
    model = Sequential(layers, input_shape=(2, 6, 6), rng=rng)
    callbacks = [ModelCheckpoint(directory), *extra]
    return Trainer(model, SoftmaxCrossEntropy(), Adam(lr=0.01), epochs=3, batch_size=8, callbacks=callbacks, rng=rng)


def test_an_image_model_resumed_mid_epoch_ends_bit_identical(tmp_path):
    x, y = image_data(36, seed=1)
    reference = image_trainer(tmp_path / "reference")
    reference.fit(x, y, validation_data=image_data(10, seed=2))
    stopped = image_trainer(tmp_path / "stopped", RaiseAt(KeyboardInterrupt(), epoch=2, batch=2))
    with pytest.raises(KeyboardInterrupt):
        stopped.fit(x, y, validation_data=image_data(10, seed=2))
    fresh = image_trainer(tmp_path / "stopped", seed=99)
    fresh.fit(x, y, validation_data=image_data(10, seed=2), resume_from=tmp_path / "stopped" / "last.npz")
    assert_same_weights(fresh.model.state_dict(), reference.model.state_dict())
    assert_same_weights(fresh.optimizer.state_dict(), reference.optimizer.state_dict())
    assert without_seconds(fresh.history) == without_seconds(reference.history)


def test_the_logged_model_rebuilds_an_image_model_and_predicts_images(tmp_path):
    from framework.tracking import pyfunc

    model = image_trainer(tmp_path).model
    directory = pyfunc.write_model_files(model, tmp_path / "model")
    served = pyfunc.FrameworkModel()
    served.load_context(
        types.SimpleNamespace(
            artifacts={"model_config": directory / pyfunc.CONFIG_FILE, "weights": directory / pyfunc.WEIGHTS_FILE}
        )
    )
    assert served.exact  # logged with its signature, Tensor('float32', (-1, 2, 6, 6)): what MLflow refuses, so does it
    x, _ = image_data(5, seed=3)
    expected = model.predict(x)
    assert np.array_equal(served.predict(None, x), expected)
    served.exact = False  # a model logged before signatures: flat rows are reshaped
    assert np.array_equal(served.predict(None, x.reshape(5, -1).tolist()), expected)
    served.exact = True
    with pytest.raises(
        MlflowException, match=r"each sample must have shape \(2, 6, 6\), got an array of shape \(5, 72\)"
    ):
        served.predict(None, x.reshape(5, -1))
    assert [spec.shape for spec in pyfunc.model_signature(model).inputs.inputs] == [(-1, 2, 6, 6)]
    config = {"model": model.get_config()}
    metadata = pyfunc.model_metadata(config)
    assert metadata["input_shape"] == [-1, 2, 6, 6] and metadata["output_shape"] == [-1, 3]
    assert metadata["layers"][:4] == ["conv2d", "batch_norm", "relu", "max_pool2d"]
