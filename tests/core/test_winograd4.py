"""Winograd's F(4x4, 3x3) against the window matrix: the forward pass, the weight gradient and the input gradient
(the forward pass of the transposed convolution) of 3x3 stride-1 convolutions, within a bound on their rounding;
the same bits at every run; a fused ReLU with the bits of a separate one; which route ``Conv2D`` takes."""

import numpy as np
import pytest

from framework.core import Conv2D, Identity, ReLU, Sequential, kernels, parallel, winograd

pytestmark = pytest.mark.skipif(not kernels.available(), reason="the compiled kernels are not built here")

SIZES = [(5, 7), (9, 8), (14, 14), (28, 28)]  # odd and even, not a multiple of 4: tiles past the edge

#: The bound on |F(4x4) - window matrix| as a multiple of u S (u the unit roundoff, S the sum of the products'
#: magnitudes of that value): see the agreement test.
BOUND = 1000


def mnist_like(shape, rng) -> np.ndarray:
    """Pixels in [0, 1), four in five of them 0, as the dark background of handwritten digits."""
    return np.where(rng.random(shape) < 0.8, 0.0, rng.random(shape))


def gradients(scheme, padding, x, upstream, *, bias=False, rectify=False, absolute=False):
    """Output, input gradient and weight gradient of a 3x3 convolution of 12 he_normal filters by ``scheme``
    (None: the window matrix), with a random bias and a fused ReLU if asked; with ``absolute``, of |x|, |W|, |b|
    and |upstream| (the magnitudes S). The input gradient is the one of the layer after an Identity; the weight
    gradient of the layer first in its model without an input gradient, so that Winograd computes it also where
    the input gradient takes col2im (no padding)."""
    results = []
    for first in (False, True):
        layers = [Conv2D(12, 3, padding=padding, init="he_normal", use_bias=bias)] + ([ReLU()] if rectify else [])
        layers = layers if first else [Identity(), *layers]
        model = Sequential(layers, input_shape=x.shape[1:], rng=np.random.default_rng(0), dtype=x.dtype.name)
        conv = layers[0 if first else 1]
        for layer in (conv, conv._transposed):
            if layer is not None:
                layer._winograd = scheme
        if bias:
            conv.bias.value[...] = np.random.default_rng(2).standard_normal(12) / 4
        if absolute:
            for parameter in (conv.weight, conv.bias) if bias else (conv.weight,):
                parameter.value[...] = np.abs(parameter.value)
        inputs, grad = (np.abs(x), np.abs(upstream)) if absolute else (x, upstream)
        y = model.forward(inputs, training=True).copy()
        input_grad = model.backward(grad.copy(), input_grad=not first)
        results.append([y, input_grad] if not first else conv.weight.grad.copy())
    return [*results[0], results[1]]


def case(height, width, padding, dtype, seed=0):
    """MNIST-like images of 16 channels and an upstream gradient for them."""
    rng = np.random.default_rng(seed)
    x = mnist_like((4, 16, height, width), rng).astype(dtype)
    out = Conv2D(12, 3, padding=padding).setup(x.shape[1:], np.dtype(dtype), None)
    return x, rng.standard_normal((4, *out)).astype(dtype)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding", [0, 1, "valid", "same"])
@pytest.mark.parametrize(("height", "width"), SIZES)
def test_f4_agrees_with_the_window_matrix_within_the_rounding_of_its_transforms(
    height, width, padding, dtype, workers, monkeypatch
):
    """Each value is a sum of K products (K = 144 forward, 108 for the input gradient, thousands for the weight
    gradient), rounded to at most about K u S by either route. F(4x4, 3x3)'s transforms add their own roundings,
    which do not shrink with K: values up to 5 x 5 (input), 1/6 and 1/24 (filter, inexact in binary) and 8 x 8
    (output) times their operands, summed over 6 x 6 tiles. Measured on these inputs (MNIST-like images, he_normal
    weights), against a float64 reference, the error was at most 170 u S (float64, forward; float32: 105 u S, about
    6e-6 S); F(2x2, 3x3)'s at most 7 u S. Bound: 1000 u S (1.1e-13 S in float64, 6e-5 S in float32). With a ReLU,
    values whose sign the rounding could flip (|y| within the bound of 0) get no upstream gradient: there the routes
    may differ by a whole gradient."""
    monkeypatch.setattr(parallel, "workers", lambda: workers)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 2**16)  # several chunks for each worker
    x, upstream = case(height, width, padding, dtype)
    unit = np.finfo(dtype).eps / 2
    wide = x.astype(np.float64), upstream.astype(np.float64)
    for bias in (False, True):
        magnitudes = gradients(None, padding, *wide, bias=bias, absolute=True)
        linear = gradients(None, padding, *wide, bias=bias)[0]
        for rectify in (False, True):
            grad = upstream * (np.abs(linear) > 2 * BOUND * unit * magnitudes[0]) if rectify else upstream
            fast = gradients(winograd.F4, padding, x, grad, bias=bias, rectify=rectify)
            reference = gradients(None, padding, x, grad, bias=bias, rectify=rectify)
            for ours, theirs, sums in zip(fast, reference, magnitudes, strict=True):
                assert ours.dtype == dtype
                assert np.all(np.abs(ours.astype(np.float64) - theirs) <= BOUND * unit * sums)
            assert not np.array_equal(fast[0], reference[0])  # F(4x4)'s own route, not the window matrix


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_f4_gives_the_same_bits_every_time(dtype, workers, monkeypatch):
    monkeypatch.setattr(parallel, "workers", lambda: workers)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 2**16)
    x, upstream = case(14, 14, 1, dtype)
    runs = [gradients(winograd.F4, 1, x, upstream, bias=True, rectify=True) for _ in range(3)]
    for run in runs[1:]:
        for ours, theirs in zip(run, runs[0], strict=True):
            np.testing.assert_array_equal(ours.view(f"u{ours.itemsize}"), theirs.view(f"u{theirs.itemsize}"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_f4_applies_a_following_relu_with_the_bits_of_a_separate_relu(dtype):
    """The output transform rectifies on the bits, without a branch on the sign: +0 for negatives and -0, NaN kept."""
    x = np.random.default_rng(0).standard_normal((3, 16, 11, 9)).astype(dtype)
    x[0, :, :4, :4] = np.nan

    def output(*layers):
        model = Sequential(list(layers), input_shape=x.shape[1:], rng=np.random.default_rng(0), dtype=x.dtype.name)
        assert model.layers[0]._winograd is winograd.F4
        return model.forward(x, training=True).copy()

    fused = output(Conv2D(12, 3, padding=1), ReLU())
    separate = output(Conv2D(12, 3, padding=1), Identity(), ReLU())  # not adjacent: not fused
    assert np.isnan(fused).any() and (fused == 0).any() and (fused > 0).any()
    np.testing.assert_array_equal(fused.view(f"u{fused.itemsize}"), separate.view(f"u{separate.itemsize}"))


ROUTES = [(4, 28, None), (8, 28, winograd.F4), (32, 28, winograd.F4), (32, 14, winograd.F4), (64, 7, winograd.F2)]


@pytest.mark.parametrize(
    ("channels", "size", "route"), [*ROUTES, (16, 10, winograd.F2), (16, 12, winograd.F4), (16, 6, winograd.F2)]
)
def test_a_3x3_convolution_takes_the_route_measured_fastest_for_its_shape(channels, size, route):
    """The window matrix under 8 channels; F(4x4) where its output is 8 or more a side and its tiles past the edge
    leave it at most 3/4 of F(2x2)'s multiplications (10 a side: 9 tiles of 36 against 25 of 16); else F(2x2)."""
    layer = Conv2D(16, 3, padding=1)
    Sequential([layer], input_shape=(channels, size, size), rng=np.random.default_rng(0))
    assert layer._winograd is route


def same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(actual.view(f"u{actual.itemsize}"), expected.view(f"u{expected.itemsize}"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scheme", [winograd.F2, winograd.F4], ids=repr)
def test_the_transforms_take_views_of_any_strides_with_the_bits_of_contiguous_arrays(scheme, dtype):
    """Images of 3 channels, 3 samples, 10 x 9 pixels as views every other sample backwards and every other column:
    the input transform reads them, the output transform writes them, the output gradient's transform reads them."""
    rng = np.random.default_rng(0)
    conv = Conv2D(4, 3, padding=1)
    Sequential([conv], input_shape=(3, 10, 9), rng=rng, dtype=np.dtype(dtype).name)
    tile_rows, tile_cols = scheme.tiles(conv)
    tiling, shape = (tile_rows, tile_cols, scheme.block), (scheme.planes, 3, 3 * tile_rows * tile_cols)
    images = rng.standard_normal((3, 6, 10, 18)).astype(dtype)[:, ::-2, :, ::2]
    for source in (images, np.ascontiguousarray(images)):  # the view first
        tiles = np.empty(shape, dtype)
        kernels.winograd_input(source, tiles, conv.rows, conv.cols, 0, *tiling)
        grads = np.empty(shape, dtype)
        kernels.winograd_gradient(source, grads, 0, *tiling)
        if source is images:
            expected = tiles, grads
    same_bits(tiles, expected[0])
    same_bits(grads, expected[1])
    products, bias = rng.standard_normal(shape).astype(dtype), rng.standard_normal(3).astype(dtype)
    strided, contiguous = np.zeros((3, 3, 10, 18), dtype), np.zeros((3, 3, 10, 9), dtype)
    for target in (strided[..., ::2], contiguous):
        kernels.winograd_output(products, bias, True, target, 0, *tiling)
    same_bits(strided[..., ::2], contiguous)
    assert not strided[..., 1::2].any() and (contiguous > 0).any()
