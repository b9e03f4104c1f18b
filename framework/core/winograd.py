"""The forward pass of a 3x3, stride-1 convolution by Winograd's minimal filtering F(m x m, 3x3), m 2 or 4.

Each m x m block of outputs comes from the (m + 2) x (m + 2) input tile under it (tiles m apart): with the input
transform ``V = B^T d B``, the filter transform ``U = G g G^T`` and the output transform
``y = A^T (sum over channels of U * V) A``, a block needs (m + 2)^2 multiplications per channel and filter where
the window matrix needs 9 m^2: F(2x2, 3x3) 16 per 4 outputs, F(4x4, 3x3) 36 per 16. The sums over channels are
(m + 2)^2 matrix products ``U[k] @ V[k]`` (filters x channels by channels x tiles), one per element of the tile;
the transforms are compiled kernels (:mod:`framework.core.kernels`). Used by ``Conv2D`` only with the kernels
and where it measured faster than the window matrix (:func:`choose`); its values differ from the window matrix's
in the last bits (the transforms round), F(4x4, 3x3)'s by more than F(2x2, 3x3)'s (its transforms multiply by up
to 8 and its filter transform by 1/6 and 1/24, which round).
"""

import math
from dataclasses import dataclass

import numpy as np

from framework.core import kernels, parallel


@dataclass(frozen=True, eq=False, repr=False)
class Scheme:
    """Winograd's F(block x block, 3x3): its filter transform G, ``(block + 2) x 3``; the compiled kernels hold
    B^T and A^T."""

    block: int
    filter_transform: np.ndarray

    @property
    def planes(self) -> int:
        """Elements of a tile, so matrix products per layer and chunk."""
        return (self.block + 2) ** 2

    def __repr__(self) -> str:
        return f"F({self.block}x{self.block}, 3x3)"

    def tiles(self, layer) -> tuple[int, int]:
        """Rows and columns of tiles covering ``layer``'s output (the last ones partly past its edge)."""
        return -(-layer.rows.out // self.block), -(-layer.cols.out // self.block)


#: F(2x2, 3x3), interpolation points 0, 1, -1 and infinity.
F2 = Scheme(2, np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]]))

#: F(4x4, 3x3), interpolation points 0, 1, -1, 2, -2 and infinity.
F4 = Scheme(
    4,
    np.array(
        [
            [1 / 4, 0.0, 0.0],
            [-1 / 6, -1 / 6, -1 / 6],
            [-1 / 6, 1 / 6, -1 / 6],
            [1 / 24, 1 / 12, 1 / 6],
            [1 / 24, -1 / 12, 1 / 6],
            [0.0, 0.0, 1.0],
        ]
    ),
)

#: Bytes of transformed tiles and products per chunk of samples, as ``conv.CHUNK_BYTES``.
CHUNK_BYTES = 4 * 2**20

#: Input channels from which Winograd's products are worth their transforms (fewer: the window matrix). Forward /
#: backward of a batch of 128 28x28 images, padding 1, one thread, window matrix against F(4x4, 3x3)
#: (``benchmarks/winograd_shapes.py``; benchmarks/README.md, "Winograd F(4x4, 3x3)"): 4 channels to 16 filters
#: 1.84 / 6.97 against 2.23 / 6.90 ms, 8 to 8 2.33 / 5.67 against 1.87 / 4.37 ms, 8 to 16 3.42 / 9.84 against
#: 2.97 / 7.86 ms, 32 to 32 21.45 / 46.61 against 11.44 / 24.98 ms.
MIN_CHANNELS = 8

#: Where F(4x4, 3x3) is faster than F(2x2, 3x3) (:func:`choose`). Forward / backward of 128 images by 64 channels to
#: 64 filters, padding 1, one thread, F(2x2) against F(4x4), by output size (F(4x4)'s multiplications as a share of
#: F(2x2)'s): 4x4 1.59 / 2.92 against 1.88 / 3.66 ms (0.56), 6x6 2.66 / 5.14 against 3.78 / 7.39 (1.0), 7x7
#: 4.04 / 8.44 against 3.95 / 8.14 (0.56), 8x8 4.10 / 8.68 against 3.90 / 7.83 (0.56), 9x9 5.77 / 11.80 against
#: 6.73 / 13.31 (0.81), 10x10 6.25 / 12.91 against 7.23 / 15.55 (0.81), 12x12 8.42 / 17.62 against 7.22 / 15.58
#: (0.56), 14x14 11.07 / 24.68 against 10.64 / 23.43 (0.73); 32 to 32 at 28x28 13.94 / 31.13 against
#: 11.44 / 24.98 (0.56).
F4_MIN_SIZE = 8
F4_MAX_SHARE = 0.75


def choose(layer) -> Scheme | None:
    """The Winograd route ``layer`` (a built ``Conv2D``) computes its forward pass by, or None: the window matrix.
    F(4x4, 3x3) where its output has at least :data:`F4_MIN_SIZE` rows and columns and its tiles take at most
    :data:`F4_MAX_SHARE` of F(2x2, 3x3)'s multiplications (its 6x6 tiles past the edge of outputs not a multiple of
    4 waste more), else F(2x2, 3x3)."""
    if not suits(layer):
        return None
    multiplications = {scheme: scheme.planes * math.prod(scheme.tiles(layer)) for scheme in (F2, F4)}
    large = min(layer.rows.out, layer.cols.out) >= F4_MIN_SIZE
    return F4 if large and multiplications[F4] <= F4_MAX_SHARE * multiplications[F2] else F2


def suits(layer) -> bool:
    """Whether ``layer`` (a built ``Conv2D``) may compute its forward pass by Winograd's minimal filtering."""
    return (
        layer.kernel_size == (3, 3)
        and layer.stride == (1, 1)
        and layer.dilation == (1, 1)
        and layer.input_shape[0] >= MIN_CHANNELS
        and kernels.available()
        and layer.dtype in kernels.KERNEL_DTYPES
    )


def filter_transform(scheme: Scheme, weight: np.ndarray) -> np.ndarray:
    """``U = G g G^T`` of every (channel, filter) kernel of ``weight`` ``(channels, 3, 3, filters)``, as
    ``(planes, filters, channels)``: the left operand of the products. Computed in float64, rounded once."""
    g = scheme.filter_transform
    transformed = np.einsum("ai,cijf,bj->abfc", g, weight.astype(np.float64), g)
    return transformed.reshape(scheme.planes, weight.shape[3], weight.shape[0]).astype(weight.dtype)


def forward(layer, x: np.ndarray, rectify: bool) -> np.ndarray:
    """``layer``'s output for ``x`` by its scheme: chunks of samples whose transformed tiles stay in cache, split
    among the chunk threads; the bias and, with ``rectify``, a ReLU applied by the output transform."""
    scheme, channels, filters = layer._winograd, layer.input_shape[0], layer.filters
    (tile_rows, tile_cols), planes = scheme.tiles(layer), scheme.planes
    tiling = (tile_rows, tile_cols, scheme.block)
    y = np.empty((filters, len(x), layer.rows.out, layer.cols.out), layer.dtype)
    transformed = filter_transform(scheme, layer.weight.value)
    bias = None if layer.bias is None else layer.bias.value
    source = x.transpose(1, 0, 2, 3)

    def work(worker, chunks):
        for samples in chunks:
            count = (samples.stop - samples.start) * tile_rows * tile_cols
            inputs = _planes(layer, "_cols", worker, planes, channels, count)
            kernels.winograd_input(source, inputs, layer.rows, layer.cols, samples.start, *tiling)
            products = _planes(layer, "_window_grads", worker, planes, filters, count)
            np.matmul(transformed, inputs, out=products)
            kernels.winograd_output(products, bias, rectify, y, samples.start, *tiling)

    parallel.split(work, _chunks(layer, len(x)), parallel.workers())
    return y.transpose(1, 0, 2, 3)


def weight_gradient(layer, grad: np.ndarray) -> np.ndarray:
    """The gradient of ``layer``'s weight ``(channels, 3, 3, filters)`` for the output gradient ``grad``: per
    element of the tile, the transformed output gradients ``A g A^T`` times the transformed input tiles, summed
    over tiles (each chunk thread its own part, added in order), then ``G^T dU G`` (in float64, rounded once)."""
    scheme, channels, filters = layer._winograd, layer.input_shape[0], layer.filters
    (tile_rows, tile_cols), planes = scheme.tiles(layer), scheme.planes
    tiling, upstream = (tile_rows, tile_cols, scheme.block), grad.transpose(1, 0, 2, 3)

    def work(worker, chunks):
        total = np.zeros((planes, filters, channels), layer.dtype)
        for samples in chunks:
            count = (samples.stop - samples.start) * tile_rows * tile_cols
            inputs = _planes(layer, "_cols", worker, planes, channels, count)
            kernels.winograd_input(layer._source, inputs, layer.rows, layer.cols, samples.start, *tiling)
            grads = _planes(layer, "_window_grads", worker, planes, filters, count)
            kernels.winograd_gradient(upstream, grads, samples.start, *tiling)
            total += np.matmul(grads, inputs.transpose(0, 2, 1))
        return total

    parts = parallel.split(work, _chunks(layer, len(grad)), parallel.workers())
    total = parts[0]
    for part in parts[1:]:
        total += part
    g, size = scheme.filter_transform, scheme.block + 2
    gradient = np.einsum("ai,abfc,bj->cijf", g, total.reshape(size, size, filters, channels).astype(np.float64), g)
    return gradient.astype(layer.dtype)


def _chunks(layer, batch: int) -> list[slice]:
    """Chunks of samples of about :data:`CHUNK_BYTES` of transformed tiles and products each, at least one for every
    worker."""
    scheme, (tile_rows, tile_cols) = layer._winograd, layer._winograd.tiles(layer)
    per_sample = scheme.planes * (layer.input_shape[0] + layer.filters) * tile_rows * tile_cols * layer.dtype.itemsize
    step = min(max(1, CHUNK_BYTES // per_sample), -(-batch // parallel.workers()))
    return [slice(start, min(start + step, batch)) for start in range(0, batch, step)]


def _planes(layer, name: str, worker: int, planes: int, rows: int, count: int) -> np.ndarray:
    """A ``(planes, rows, count)`` view of ``worker``'s scratch array ``name`` of ``layer``, its planes an odd number
    of 64-byte cache lines apart: planes a multiple of 4 KB apart (64 channels of 16 tiles per sample in float32)
    share the first-level cache's sets, and the transforms, which read or write all planes at once, ran 2-7 times
    slower."""
    line = 64 // layer.dtype.itemsize
    lines = -(-rows * count // line)
    storage = layer._scratch(name, worker).get((planes, (lines + 1 - lines % 2) * line), layer.dtype)
    return storage[:, : rows * count].reshape(planes, rows, count)
