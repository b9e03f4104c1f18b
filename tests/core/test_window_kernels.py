"""The compiled window, pooling and ReLU kernels against their NumPy reference paths.

Copies and pooling must give the same bits. A convolution's output and input gradient give the same
values too: each is a sum over the same window rows (or filters) of the same products, and col2im
adds each pixel's window gradients in the same order (taps row-major) onto zero; the only difference
allowed is the sign of a zero sum (``assert_array_equal`` counts -0 == 0). The weight and bias
gradients are sums over the batch's positions, which the two paths lay out differently (the NumPy
path copies runs of whole padded rows, with extra columns of zero gradient; the compiled one the
output positions alone), so their sums may round differently: within the bound of
:func:`assert_within_rounding`.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from framework.core import (
    AvgPool2D,
    Conv2D,
    Dense,
    Flatten,
    MaxPool2D,
    ReLU,
    Sequential,
    kernels,
    parallel,
    winograd,
)

needs_kernels = pytest.mark.skipif(not kernels.available(), reason="the compiled kernels are not built here")

CONV_SETTINGS = [
    {"kernel_size": 5, "padding": 2},  # row runs, padded
    {"kernel_size": 5},  # row runs, no padding: col2im
    {"kernel_size": 3, "padding": "same", "dilation": 2},
    {"kernel_size": [2, 3], "stride": [1, 2], "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": "same"},
    {"kernel_size": 2, "stride": 3, "padding": [2, 0], "dilation": [2, 1]},
    {"kernel_size": 4, "padding": "same"},  # asymmetric padding
    {"kernel_size": 3, "padding": 4},  # more padding than the transposed convolution takes: col2im
]


def same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    unsigned = np.dtype(f"u{actual.dtype.itemsize}")
    np.testing.assert_array_equal(
        np.ascontiguousarray(actual).view(unsigned), np.ascontiguousarray(expected).view(unsigned)
    )


def run_both_paths(monkeypatch, function):
    """``function()`` with the compiled kernels, then with NumPy alone."""
    compiled = function()
    with monkeypatch.context() as patch:
        patch.setattr(kernels, "_kernels", None)
        reference = function()
    return compiled, reference


def images(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("setting", CONV_SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_window_copies_are_the_numpy_copies_bit_for_bit(setting, dtype, monkeypatch):
    layer = Conv2D(3, **setting)
    Sequential([layer], input_shape=(2, 9, 8), rng=np.random.default_rng(0), dtype=np.dtype(dtype).name)
    x = images((5, 2, 9, 8), dtype)

    def window_matrices():
        layer._compiled = kernels.accepts_images(x)
        layer._source, layer._batch = layer._padded_source(x), len(x)
        chunks = [slice(0, 2), slice(2, 5)]  # the last sample's row runs read into the slack past the batch
        return [matrix.copy() for _, matrix in layer._window_chunks(chunks)]

    compiled, reference = run_both_paths(monkeypatch, window_matrices)
    for ours, theirs in zip(compiled, reference, strict=True):
        same_bits(ours, theirs)


def layer_step(make_layer, x, seed=1, absolute=False):
    """Output, input gradient and parameter gradients of one layer for a random upstream gradient; with
    ``absolute``, for its magnitudes (and x's, which the caller gives)."""
    layer = make_layer()
    model = Sequential([layer], input_shape=x.shape[1:], rng=np.random.default_rng(0), dtype=x.dtype.name)
    y = model.forward(x, training=True)
    upstream = images(y.shape, x.dtype, seed)
    dx = model.backward(np.abs(upstream) if absolute else upstream)
    return [y.copy(), dx.copy(), *(p.grad.copy() for p in model.parameters())]


def assert_within_rounding(ours, theirs, magnitudes, terms: int, dtype) -> None:
    """Two sums of the same ``terms`` products added in different orders: each is within ``(terms - 1) u`` times
    the sum of the products' magnitudes of the exact sum (u the unit roundoff), so they differ by at most twice that."""
    unit = np.finfo(dtype).eps / 2
    assert np.all(np.abs(ours.astype(np.float64) - theirs) <= 2 * terms * unit * magnitudes)


@needs_kernels
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("setting", CONV_SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_convolutions_give_the_numpy_values(setting, dtype, workers, monkeypatch):
    from framework.core import conv

    monkeypatch.setattr(parallel, "workers", lambda: workers)
    monkeypatch.setattr(conv, "CHUNK_BYTES", 2000)  # several chunks
    x, make = images((6, 3, 9, 8), dtype), lambda: Conv2D(4, **setting)
    compiled, reference = run_both_paths(monkeypatch, lambda: layer_step(make, x))
    for ours, theirs in zip(compiled[:2], reference[:2], strict=True):  # output and input gradient
        np.testing.assert_array_equal(ours, theirs)
    with monkeypatch.context() as patch:
        patch.setattr(kernels, "_kernels", None)
        magnitudes = layer_step(make, np.abs(x.astype(np.float64)), absolute=True)[2:]
    terms = len(x) * compiled[0].shape[2] * compiled[0].shape[3] * 2  # positions, and as many extra columns at most
    for ours, theirs, sums in zip(compiled[2:], reference[2:], magnitudes, strict=True):
        assert_within_rounding(ours, theirs, sums, terms, dtype)


def unaligned(array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` whose data starts one byte past an aligned address: the compiled kernels refuse it."""
    raw = np.zeros(array.nbytes + 1, np.uint8)
    copy = np.frombuffer(raw[1:].data, dtype=array.dtype).reshape(array.shape)
    copy[...] = array
    return copy


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("setting", CONV_SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_a_batch_the_kernels_refuse_runs_on_numpy_in_the_layout_built_for_them_with_the_same_bits(setting, dtype):
    """A layer built with the kernels lays its windows out for them (one column per output position); a batch they
    cannot take (unaligned) goes through the NumPy copies in that same layout, so nothing differs but the copier."""
    x = images((6, 3, 9, 8), dtype)
    refused = unaligned(x)
    assert not kernels.accepts_images(refused)
    compiled = layer_step(lambda: Conv2D(4, **setting), x)
    for ours, theirs in zip(layer_step(lambda: Conv2D(4, **setting), refused), compiled, strict=True):
        np.testing.assert_array_equal(ours, theirs)


POOLS = [
    (MaxPool2D, {"kernel_size": 2}),
    (MaxPool2D, {"kernel_size": 3}),  # 9x8 images: a row and columns left over
    (MaxPool2D, {"kernel_size": 3, "stride": 2}),  # overlapping windows: gradients added
    (MaxPool2D, {"kernel_size": [2, 3], "stride": [3, 1]}),  # rows no window covers
    (AvgPool2D, {"kernel_size": 2}),
    (AvgPool2D, {"kernel_size": 3, "stride": 2}),
    (AvgPool2D, {"kernel_size": [2, 3], "stride": [3, 1]}),
]


@needs_kernels
@pytest.mark.parametrize("width", [8, 14])  # 2x2 windows: 4 per row, or 7 (4 at once, then 3)
@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("layer_class", "config"), POOLS, ids=lambda v: str(v))
def test_pooling_and_relu_give_the_numpy_bits(layer_class, config, dtype, workers, width, monkeypatch):
    monkeypatch.setattr(parallel, "workers", lambda: workers)
    monkeypatch.setattr(parallel, "SPLIT_ELEMENTS", 0)
    x = images((4, 5, 9, width), dtype)
    x[:, :, 0, :4] = x[:, :, 1, :4]  # ties: the first largest input gets the gradient
    x[0, 0] = 0.0  # whole windows of zeros, and ReLU's 0 and -0
    x[0, 1, :, :3] = -0.0
    x = x.transpose(1, 0, 2, 3).copy().transpose(1, 0, 2, 3)  # channel-major, as a convolution leaves it
    for make in (lambda: layer_class(**config), ReLU):
        compiled, reference = run_both_paths(monkeypatch, lambda make=make: layer_step(make, x))
        for ours, theirs in zip(compiled, reference, strict=True):
            same_bits(ours, theirs)


def small_network(dtype="float64"):
    layers = [Conv2D(4, 5, padding=2), ReLU(), MaxPool2D(2), Conv2D(6, 3), ReLU(), AvgPool2D(2), Flatten(), Dense(3)]
    return Sequential(layers, input_shape=(1, 12, 12), rng=np.random.default_rng(0), dtype=dtype)


def train_small_network(steps=3) -> list[np.ndarray]:
    """A few plain gradient steps of a small network; its parameters after them."""
    model = small_network()
    rng = np.random.default_rng(1)
    for _ in range(steps):
        x = rng.standard_normal((8, 1, 12, 12))
        y = model.forward(x, training=True)
        model.backward(y - 0.5, input_grad=False)
        for parameter in model.parameters():
            parameter.value -= 0.01 * parameter.grad
    return [parameter.value.copy() for parameter in model.parameters()]


@needs_kernels
def test_a_network_trains_to_the_same_values_on_both_paths(monkeypatch):
    """Float64: the weight gradients' sums, added in another order on each path, differ by a few units in the
    last place (see the module's docstring); after three steps the parameters agree far below any learning."""
    compiled, reference = run_both_paths(monkeypatch, train_small_network)
    for ours, theirs in zip(compiled, reference, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_with_the_kernels_disabled_everything_runs_on_numpy_with_the_same_values(monkeypatch):
    """FRAMEWORK_DISABLE_KERNELS=1 in a fresh process: no kernel is loaded, and training gives the values
    of the NumPy path here (which with the kernels built agree with the compiled path's within rounding)."""
    script = (
        "import sys; import numpy as np; from framework.core import kernels; "
        "assert not kernels.available(), 'kernels loaded'; "
        "from tests.core.test_window_kernels import train_small_network; "
        "np.save(sys.stdout.buffer, np.concatenate([p.ravel() for p in train_small_network()]))"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    environment = {**os.environ, "FRAMEWORK_DISABLE_KERNELS": "1", "PYTHONPATH": root}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=root, env=environment, check=False)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    import io

    disabled = np.load(io.BytesIO(result.stdout))
    monkeypatch.setattr(kernels, "_kernels", None)
    np.testing.assert_array_equal(disabled, np.concatenate([p.ravel() for p in train_small_network()]))


@needs_kernels
def test_the_raw_kernels_refuse_arrays_that_do_not_fit_the_windows():
    from framework.core.windows import window_axis

    rows = cols = window_axis(8, 3, 1, 1, 1)
    x = np.zeros((2, 1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="does not match"):
        kernels.im2col(x, np.zeros(10, np.float32), rows, cols, 0, cols.padded)
    with pytest.raises(ValueError, match="geometry does not fit"):
        kernels.im2col(x, np.zeros(10, np.float32), window_axis(8, 9, 1, 1, 0), cols, 0, cols.padded)
    with pytest.raises(ValueError, match="do not match the windows"):
        kernels.max_pool(x, np.zeros((2, 1, 7, 4), np.float32), np.zeros((2, 1, 7, 4), np.int32), rows, cols)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.relu(x.astype(np.int64), x.astype(np.int64))


@pytest.mark.parametrize("path", ["compiled", "numpy"])
def test_a_relu_after_a_convolution_is_applied_by_it_with_the_same_values(path, monkeypatch):
    from framework.core import Identity

    if path == "numpy":
        monkeypatch.setattr(kernels, "_kernels", None)
    elif not kernels.available():
        pytest.skip("the compiled kernels are not built here")
    x = images((5, 2, 9, 8), np.float32)

    def step(*layers):
        model = Sequential(list(layers), input_shape=(2, 9, 8), rng=np.random.default_rng(0))
        y = model.forward(x, training=True)
        dx = model.backward(images(y.shape, np.float32, 1))
        return model, [y.copy(), dx.copy(), *(p.grad.copy() for p in model.parameters())]

    fused_model, fused = step(Conv2D(3, 3, padding=1), ReLU(), MaxPool2D(2))
    _, separate = step(Conv2D(3, 3, padding=1), Identity(), ReLU(), MaxPool2D(2))  # not adjacent: not fused
    assert fused_model.layers[0]._rectify and fused_model.layers[1].input_rectified
    for ours, theirs in zip(fused, separate, strict=True):
        same_bits(ours, theirs)


@needs_kernels
@pytest.mark.parametrize("rectify", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_bias_and_a_fused_relu_give_the_numpy_bits(dtype, rectify, monkeypatch):
    x = images((5, 2, 9, 8), dtype)

    def output():
        layers = [Conv2D(3, 3, padding=1), ReLU() if rectify else Flatten()]
        model = Sequential(layers, input_shape=(2, 9, 8), rng=np.random.default_rng(0), dtype=np.dtype(dtype).name)
        layers[0].bias.value[...] = images((3,), dtype, seed=2)
        return model.forward(x, training=True).copy()

    compiled, reference = run_both_paths(monkeypatch, output)
    assert (compiled == 0).any() == rectify
    same_bits(compiled, reference)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("config", [{"kernel_size": 2}, {"kernel_size": 3}, {"kernel_size": 3, "stride": 2}])
@pytest.mark.parametrize("path", ["compiled", "numpy"])
def test_a_relu_before_max_pooling_is_differentiated_by_the_pooling_with_the_same_bits(
    path, config, workers, monkeypatch
):
    from framework.core import Identity

    if path == "numpy":
        monkeypatch.setattr(kernels, "_kernels", None)
    elif not kernels.available():
        pytest.skip("the compiled kernels are not built here")
    monkeypatch.setattr(parallel, "workers", lambda: workers)
    monkeypatch.setattr(parallel, "SPLIT_ELEMENTS", 0)
    x = images((4, 3, 9, 8), np.float32)
    x[0, 0] = 0.0  # windows of zeros: ReLU's 0 and -0, ties
    x[0, 1, :, :3] = -0.0
    x[1, 2, 2:5, 2:5] = np.nan
    x = x.transpose(1, 0, 2, 3).copy().transpose(1, 0, 2, 3)  # channel-major, as a convolution leaves it
    upstream = images((4, 3, *MaxPool2D(**config).setup((3, 9, 8), np.float32, None)[1:]), np.float32, 1)

    def step(*layers):
        model = Sequential(list(layers), input_shape=(3, 9, 8), rng=np.random.default_rng(0), dtype="float32")
        y = model.forward(x, training=True)
        return model, [y.copy(), model.backward(upstream.copy()).copy()]

    fused_model, fused = step(Identity(), ReLU(), MaxPool2D(**config))
    _, separate = step(Identity(), ReLU(), Identity(), MaxPool2D(**config))  # not adjacent: not fused
    assert fused_model.layers[1].masked_by_following and fused_model.layers[2].rectifies_input_gradient
    for ours, theirs in zip(fused, separate, strict=True):
        same_bits(ours, theirs)


WINOGRAD_CASES = [(1, 28, 28), ("same", 7, 10), (2, 5, 6), (0, 9, 8)]  # the last without padding: col2im


def winograd_or_windows(scheme, padding, x, upstream, absolute=False, filters=12, use_bias=False, rectify=False):
    """Output, input gradient and weight gradient of a 3x3 convolution (the layer after an Identity, so that its
    input gradient is computed; with ``rectify``, a ReLU after it) by Winograd's ``scheme`` (``winograd.F2`` or
    ``winograd.F4``) or, None, the window matrix; with ``absolute``, of |x|, |W| and |upstream|: the sums of the
    products' magnitudes."""
    from framework.core import Identity

    layers = [Identity(), Conv2D(filters, 3, padding=padding, use_bias=use_bias)] + ([ReLU()] if rectify else [])
    model = Sequential(layers, input_shape=x.shape[1:], rng=np.random.default_rng(0), dtype=x.dtype.name)
    conv = layers[1]
    if use_bias:
        conv.bias.value[...] = np.random.default_rng(2).standard_normal(filters)
    for layer in (conv, conv._transposed):
        if layer is not None:
            layer._winograd = scheme
    if absolute:
        conv.weight.value[...] = np.abs(conv.weight.value)
        x, upstream = np.abs(x), np.abs(upstream)
    y = model.forward(x, training=True)
    return [y.copy(), model.backward(upstream.copy()).copy(), conv.weight.grad.copy()]


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("padding", "height", "width"), WINOGRAD_CASES)
def test_winograd_agrees_with_the_window_matrix_within_the_rounding_of_its_sums(padding, height, width, dtype):
    """Each value is a sum of K products (K = 9 channels forward, 9 filters for the input gradient, batch x positions
    for the weight gradient); a sum's rounding error is at most about K u times the sum of the products' magnitudes
    (u the unit roundoff), and Winograd's transforms add a few more roundings of sums of at most 4 terms. Bound:
    4 K u times those magnitudes (computed in float64), for both routes' errors together."""
    x = images((5, 16, height, width), dtype)
    y = Conv2D(12, 3, padding=padding).setup(x.shape[1:], np.dtype(dtype), np.random.default_rng(0))
    upstream = images((5, *y), dtype, seed=1)
    fast = winograd_or_windows(winograd.F2, padding, x, upstream)
    reference = winograd_or_windows(None, padding, x, upstream)
    magnitudes = winograd_or_windows(None, padding, x.astype(np.float64), upstream.astype(np.float64), absolute=True)
    unit = np.finfo(dtype).eps / 2
    for ours, theirs, sums, terms in zip(fast, reference, magnitudes, (9 * 16, 9 * 12, 5 * y[1] * y[2])):
        assert np.all(np.abs(ours.astype(np.float64) - theirs) <= 4 * terms * unit * sums)
        assert not np.array_equal(ours, theirs) or padding == 0  # Winograd's own route, not the window matrix


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_winograd_applies_a_following_relu_with_the_bits_of_a_separate_relu(dtype):
    """The output transform rectifies on the bits, without a branch on the sign: +0 for negatives and -0, NaN kept."""
    from framework.core import Identity

    x = images((3, 16, 9, 10), dtype)
    x[0, :, :4, :4] = np.nan

    def output(*layers):
        model = Sequential(
            list(layers), input_shape=x.shape[1:], rng=np.random.default_rng(0), dtype=np.dtype(dtype).name
        )
        assert model.layers[0]._winograd
        return model.forward(x, training=True).copy()

    fused = output(Conv2D(12, 3, padding=1), ReLU())
    separate = output(Conv2D(12, 3, padding=1), Identity(), ReLU())  # not adjacent: not fused
    assert np.isnan(fused).any() and (fused == 0).any() and (fused > 0).any()
    same_bits(fused, separate)
