"""Convolution, pooling, flatten and channel batch norm: against explicit loops over every
position on tiny inputs (float64, within 1e-10), gradient checks for each setting, float32
kept, and one-line errors."""

import math

import numpy as np
import pytest

from framework.core import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    MaxPool2D,
    Sequential,
    ShapeError,
)
from framework.core.errors import InvalidValueError
from framework.testing import check_config_round_trip, check_layer_gradients

# -- references: one output value at a time ---------------------------------------


def same_padding(size, kernel, stride, dilation):
    """TensorFlow's rule: output ceil(size / stride), the odd padding pixel at the end."""
    needed = (math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size
    return max(needed, 0) // 2, max(needed, 0) - max(needed, 0) // 2


def reference_pad(x, padding, kernel, stride, dilation):
    if padding == "same":
        rows = same_padding(x.shape[2], kernel[0], stride[0], dilation[0])
        cols = same_padding(x.shape[3], kernel[1], stride[1], dilation[1])
    else:
        amount = (0, 0) if padding == "valid" else pairs(padding)
        rows, cols = (amount[0], amount[0]), (amount[1], amount[1])
    return np.pad(x, ((0, 0), (0, 0), rows, cols)), rows, cols


def reference_conv(x, weight, bias, upstream, stride, padding, dilation):
    """Forward output and gradients of sum(output * upstream) by explicit loops."""
    kernel = weight.shape[1:3]
    xp, rows, cols = reference_pad(x, padding, kernel, stride, dilation)
    batch, channels = x.shape[:2]
    filters = weight.shape[3]
    out_h = (xp.shape[2] - (kernel[0] - 1) * dilation[0] - 1) // stride[0] + 1
    out_w = (xp.shape[3] - (kernel[1] - 1) * dilation[1] - 1) // stride[1] + 1
    y = np.zeros((batch, filters, out_h, out_w))
    dxp, dw = np.zeros_like(xp), np.zeros_like(weight)
    for n in range(batch):
        for f in range(filters):
            for r in range(out_h):
                for c in range(out_w):
                    total = bias[f]
                    for ch in range(channels):
                        for i in range(kernel[0]):
                            for j in range(kernel[1]):
                                pr, pc = r * stride[0] + i * dilation[0], c * stride[1] + j * dilation[1]
                                total += weight[ch, i, j, f] * xp[n, ch, pr, pc]
                                dxp[n, ch, pr, pc] += weight[ch, i, j, f] * upstream[n, f, r, c]
                                dw[ch, i, j, f] += xp[n, ch, pr, pc] * upstream[n, f, r, c]
                    y[n, f, r, c] = total
    dx = dxp[:, :, rows[0] : rows[0] + x.shape[2], cols[0] : cols[0] + x.shape[3]]
    return y, dx, dw, upstream.sum(axis=(0, 2, 3))


def reference_pool(x, upstream, kernel, stride, kind):
    batch, channels, height, width = x.shape
    out_h, out_w = (height - kernel[0]) // stride[0] + 1, (width - kernel[1]) // stride[1] + 1
    y = np.zeros((batch, channels, out_h, out_w))
    dx = np.zeros_like(x)
    for n in range(batch):
        for ch in range(channels):
            for r in range(out_h):
                for c in range(out_w):
                    top, left = r * stride[0], c * stride[1]
                    window = x[n, ch, top : top + kernel[0], left : left + kernel[1]]
                    if kind == "max":
                        i, j = np.unravel_index(np.argmax(window), window.shape)
                        y[n, ch, r, c] = window[i, j]
                        dx[n, ch, top + i, left + j] += upstream[n, ch, r, c]
                    else:
                        y[n, ch, r, c] = window.mean()
                        dx[n, ch, top : top + kernel[0], left : left + kernel[1]] += upstream[n, ch, r, c] / window.size
    return y, dx


def run(layer, x, seed=1):
    """Forward and backward of ``layer`` alone in float64, with a random upstream gradient."""
    model = Sequential([layer], input_shape=x.shape[1:], rng=np.random.default_rng(seed), dtype="float64")
    y = model.forward(x, training=True)
    upstream = np.random.default_rng(seed + 1).normal(size=y.shape)
    dx = model.backward(upstream.copy())
    return y, dx, upstream


CONV_SETTINGS = [
    {"kernel_size": 3, "stride": 1, "padding": "valid", "dilation": 1},
    {"kernel_size": 3, "stride": 2, "padding": "same", "dilation": 1},
    {"kernel_size": [2, 3], "stride": [1, 2], "padding": 1, "dilation": 1},
    {"kernel_size": 3, "stride": 1, "padding": "same", "dilation": 2},
    {"kernel_size": 2, "stride": 3, "padding": [2, 0], "dilation": [2, 1]},
    {"kernel_size": 4, "stride": 1, "padding": "same", "dilation": 1},  # even kernel: asymmetric padding
]


def pairs(value):
    return tuple(value) if isinstance(value, list) else (value, value)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("setting", CONV_SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_conv_matches_explicit_loops(setting, batch):
    x = np.random.default_rng(0).normal(size=(batch, 2, 7, 6))  # odd and even sizes
    layer = Conv2D(3, **setting)
    y, dx, upstream = run(layer, x)
    ref_y, ref_dx, ref_dw, ref_db = reference_conv(
        x,
        layer.weight.value,
        layer.bias.value,
        upstream,
        pairs(setting["stride"]),
        setting["padding"],
        pairs(setting["dilation"]),
    )
    assert y.shape == ref_y.shape
    np.testing.assert_allclose(y, ref_y, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, ref_dx, rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.weight.grad, ref_dw, rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.bias.grad, ref_db, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind, layer_class", [("max", MaxPool2D), ("avg", AvgPool2D)])
@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 2), ([2, 3], 1), (3, [1, 2])])
@pytest.mark.parametrize("batch", [1, 2])
def test_pooling_matches_explicit_loops(kind, layer_class, kernel, stride, batch):
    x = np.random.default_rng(0).normal(size=(batch, 3, 7, 6))
    y, dx, upstream = run(layer_class(kernel, stride), x)
    ref_y, ref_dx = reference_pool(x, upstream, pairs(kernel), pairs(kernel if stride is None else stride), kind)
    np.testing.assert_allclose(y, ref_y, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, ref_dx, rtol=0, atol=1e-10)


def test_max_pool_routes_a_tie_to_the_first_largest_input_only():
    x = np.array([[[[1.0, 5.0], [5.0, 0.0]]]])
    _, dx, upstream = run(MaxPool2D(2), x)
    assert dx.tolist() == [[[[0.0, upstream.item()], [0.0, 0.0]]]]


def test_global_average_pool_and_flatten_match_numpy():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    y, dx, upstream = run(GlobalAvgPool2D(), x)
    np.testing.assert_allclose(y, x.mean(axis=(2, 3)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, np.repeat(np.repeat(upstream[:, :, None, None], 4, 2), 5, 3) / 20, atol=1e-15)
    y, dx, upstream = run(Flatten(), x)
    assert np.array_equal(y, x.reshape(2, 60)) and np.array_equal(dx, upstream.reshape(x.shape))


def test_channel_batch_norm_normalizes_each_channel_over_batch_and_positions():
    x = np.random.default_rng(0).normal(loc=3.0, scale=2.0, size=(4, 3, 5, 5))
    y, _, _ = run(BatchNorm(), x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-4)


# -- gradient checks: every setting, training and evaluation -------------------------


GRADIENT_CASES = [
    *[(Conv2D, {"filters": 2, **setting}, (2, 7, 6)) for setting in CONV_SETTINGS],
    (Conv2D, {"filters": 3, "kernel_size": 1, "use_bias": False}, (2, 3, 3)),
    (MaxPool2D, {"kernel_size": 2}, (2, 5, 4)),
    (MaxPool2D, {"kernel_size": 3, "stride": 1}, (2, 5, 5)),
    (AvgPool2D, {"kernel_size": [2, 3], "stride": 2}, (1, 5, 7)),
    (GlobalAvgPool2D, {}, (3, 3, 2)),
    (Flatten, {}, (2, 3, 2)),
    (BatchNorm, {}, (3, 4, 3)),
    (Dropout, {"rate": 0.3}, (2, 3, 3)),
]


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("layer_class, config, shape", GRADIENT_CASES, ids=lambda v: str(v))
def test_gradients_of_every_image_setting(layer_class, config, shape, batch):
    training = not (layer_class is BatchNorm and batch == 1)  # batch statistics need two samples
    check_layer_gradients(layer_class(**config), shape, batch=batch, training=training)


@pytest.mark.parametrize("layer_class, config, shape", GRADIENT_CASES, ids=lambda v: str(v))
def test_config_round_trips(layer_class, config, shape):
    check_config_round_trip(layer_class(**config))


# -- dtype, buffers, evaluation chunks ------------------------------------------------


def lenet_like(dtype="float32", seed=0):
    layers = [Conv2D(4, 3, padding="same"), BatchNorm(), MaxPool2D(2), Conv2D(6, 3), AvgPool2D(2), Flatten(), Dense(3)]
    return Sequential(layers, input_shape=(1, 10, 10), rng=np.random.default_rng(seed), dtype=dtype)


def test_float32_stays_float32_through_forward_and_backward():
    model = lenet_like("float32")
    x = np.random.default_rng(0).random((5, 1, 10, 10), dtype=np.float32)
    y = model.forward(x, training=True)
    dx = model.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_buffers_are_reused_across_batches_and_smaller_batches_give_the_same_values():
    model = lenet_like("float64")
    x = np.random.default_rng(0).normal(size=(6, 1, 10, 10))
    model.forward(x, training=True)
    conv = model.layers[0]
    window_matrix = conv._cols.storage
    part = model.forward(x[:2], training=True)
    assert conv._cols.storage is window_matrix
    np.testing.assert_allclose(part, lenet_like("float64").forward(x[:2], training=True), rtol=0, atol=0)


def test_windows_go_through_in_chunks_of_samples_with_the_same_result(monkeypatch):
    from framework.core import conv

    x = np.random.default_rng(0).normal(size=(7, 1, 10, 10))
    upstream = np.random.default_rng(1).normal(size=(7, 3))
    whole = lenet_like("float64")
    y = whole.forward(x, training=True)
    dx = whole.backward(upstream.copy())
    chunk_bytes = 3 * 9 * 10 * 12 * 8  # the windows of 3 samples of the first layer, 12 padded columns per row
    monkeypatch.setattr(conv, "CHUNK_BYTES", chunk_bytes)
    chunked = lenet_like("float64")
    np.testing.assert_allclose(chunked.forward(x, training=True), y, rtol=0, atol=1e-13)
    np.testing.assert_allclose(chunked.backward(upstream.copy()), dx, rtol=0, atol=1e-13)
    for ours, reference in zip(chunked.parameters(), whole.parameters()):
        np.testing.assert_allclose(ours.grad, reference.grad, rtol=0, atol=1e-13)
    assert chunked.layers[0]._cols.storage.nbytes <= chunk_bytes  # never the windows of all 7 (fewer with threads)
    first = chunked.layers[0]
    first.forward(x[:2])
    with pytest.raises(ShapeError, match="needs the forward pass of the same batch"):
        first.backward(np.ones((7, 4, 10, 10)))


def test_chunks_split_among_threads_give_the_results_of_one_thread_every_time(monkeypatch):
    from framework.core import conv, parallel

    x = np.random.default_rng(0).normal(size=(9, 1, 10, 10))
    upstream = np.random.default_rng(1).normal(size=(9, 3))
    monkeypatch.setattr(conv, "CHUNK_BYTES", 2 * 9 * 10 * 12 * 8)  # several chunks per convolution
    monkeypatch.setattr(parallel, "SPLIT_PRODUCT", 1)  # the dense layers' products split too

    def run(workers):
        monkeypatch.setattr(parallel, "workers", lambda: workers)
        model = lenet_like("float64")
        y = model.forward(x, training=True)
        return [y, model.backward(upstream.copy()), *(p.grad.copy() for p in model.parameters())]

    one, two, again = run(1), run(2), run(2)
    assert model_uses_col2im(lenet_like("float64"))
    for serial, threaded, repeated in zip(one, two, again):
        np.testing.assert_allclose(threaded, serial, rtol=0, atol=1e-13)
        np.testing.assert_array_equal(repeated, threaded)


def test_relu_and_max_pooling_split_among_threads_give_the_same_values(monkeypatch):
    from framework.core import ReLU, parallel

    x = np.random.default_rng(0).normal(size=(4, 5, 12, 12)).astype(np.float32)

    def run(workers):
        monkeypatch.setattr(parallel, "workers", lambda: workers)
        monkeypatch.setattr(parallel, "SPLIT_ELEMENTS", 0)
        layers = [Conv2D(3, 3, padding=1), ReLU(), MaxPool2D(2)]
        model = Sequential(layers, input_shape=(5, 12, 12), rng=np.random.default_rng(0))
        y = model.forward(x, training=True)
        return [y, model.backward(np.random.default_rng(1).normal(size=y.shape).astype(np.float32))]

    for serial, threaded in zip(run(1), run(3)):
        np.testing.assert_array_equal(threaded, serial)


def model_uses_col2im(model):
    return any(isinstance(layer, Conv2D) and layer._transposed is None for layer in model.layers[1:])


# -- errors ------------------------------------------------------------------------------


def test_dense_after_a_convolution_without_flatten_names_both_layers():
    with pytest.raises(ShapeError) as caught:
        Sequential([Conv2D(2, 3), MaxPool2D(), Dense(3)], input_shape=(1, 8, 8), rng=np.random.default_rng(0))
    message = str(caught.value)
    assert "\n" not in message
    assert "layer 2 (Dense(units=3)) after layer 1 (MaxPool2D())" in message
    assert "put a flatten layer before it" in message
    assert caught.value.layer_index == 2


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: Conv2D(0), "filters must be a positive integer"),
        (lambda: Conv2D(2, [3, 3, 3]), "kernel_size must be an integer or a pair"),
        (lambda: Conv2D(2, padding="full"), "padding must be 'valid', 'same'"),
        (lambda: Conv2D(2, padding=-1), "padding must be"),
        (lambda: MaxPool2D(2, stride=0), "stride must be a positive integer"),
        (lambda: Conv2D(2, use_bias="no"), "use_bias must be true or false"),
    ],
)
def test_bad_arguments_are_refused_at_construction(make, expected):
    with pytest.raises(InvalidValueError, match=expected):
        make()


@pytest.mark.parametrize(
    "layers, shape, expected",
    [
        ([Conv2D(2, 3)], (4,), r"Conv2D needs images of per-sample shape \(channels, height, width\)"),
        ([Conv2D(2, 5)], (1, 4, 4), "a 5x5 window does not fit in the"),
        ([MaxPool2D(3)], (1, 2, 8), "a 3x3 window does not fit"),
    ],
)
def test_shapes_that_do_not_fit_are_refused_at_build(layers, shape, expected):
    with pytest.raises(ShapeError, match=expected):
        Sequential(layers, input_shape=shape, rng=np.random.default_rng(0))
