"""The forward pass of a 3x3, stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3).

Each 2x2 block of outputs comes from the 4x4 input tile under it: with the input transform
``V = B^T d B``, the filter transform ``U = G g G^T`` and the output transform
``y = A^T (sum over channels of U * V) A``, a block needs 16 multiplications per channel and
filter where the window matrix needs 36. The sums over channels are 16 matrix products
``U[k] @ V[k]`` (filters x channels by channels x tiles), one per element of the tile; the two
transforms are compiled kernels (:mod:`framework.core.kernels`). Used by ``Conv2D`` only with
the kernels and where it measured faster than the window matrix (:data:`MIN_CHANNELS`); its
values differ from the window matrix's in the last bits (the transforms round).
"""

import numpy as np

from framework.core import kernels, parallel

#: G of F(2x2, 3x3): the filter transform, 4x3.
FILTER_TRANSFORM = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])

#: Bytes of transformed tiles and products per chunk of samples, as ``conv.CHUNK_BYTES``.
CHUNK_BYTES = 4 * 2**20

#: Input channels from which Winograd's products are worth their transforms (fewer: the window matrix). Forward
#: of a batch of 128 28x28 images, one thread, Winograd against the window matrix: 4 channels to 16 filters
#: 3.6 / 1.8 ms, 8 to 16 4.1 / 4.0 ms, 16 to 16 6.4 / 7.1 ms, 32 to 32 15.7 / 21.1 ms.
MIN_CHANNELS = 16


def suits(layer) -> bool:
    """Whether ``layer`` (a built ``Conv2D``) computes its forward pass by F(2x2, 3x3)."""
    return (
        layer.kernel_size == (3, 3)
        and layer.stride == (1, 1)
        and layer.dilation == (1, 1)
        and layer.input_shape[0] >= MIN_CHANNELS
        and kernels.available()
        and layer.dtype in kernels.KERNEL_DTYPES
    )


def filter_transform(weight: np.ndarray) -> np.ndarray:
    """``U = G g G^T`` of every (channel, filter) kernel of ``weight`` ``(channels, 3, 3, filters)``, as
    ``(16, filters, channels)``: the left operand of the 16 products."""
    g = FILTER_TRANSFORM.astype(weight.dtype)
    transformed = np.einsum("ai,cijf,bj->abfc", g, weight, g)
    return np.ascontiguousarray(transformed.reshape(16, weight.shape[3], weight.shape[0]))


def forward(layer, x: np.ndarray, rectify: bool) -> np.ndarray:
    """``layer``'s output for ``x``: chunks of samples whose transformed tiles stay in cache, split among the
    chunk threads; the bias and, with ``rectify``, a ReLU applied by the output transform."""
    channels, filters = layer.input_shape[0], layer.filters
    tile_rows, tile_cols = -(-layer.rows.out // 2), -(-layer.cols.out // 2)
    tiles = tile_rows * tile_cols
    y = np.empty((filters, len(x), layer.rows.out, layer.cols.out), layer.dtype)
    transformed = filter_transform(layer.weight.value)
    bias = None if layer.bias is None else layer.bias.value
    source = x.transpose(1, 0, 2, 3)

    def work(worker, chunks):
        for samples in chunks:
            count = (samples.stop - samples.start) * tiles
            inputs = layer._scratch("_cols", worker).get((16, channels, count), layer.dtype)
            kernels.winograd_input(source, inputs, layer.rows, layer.cols, samples.start, tile_rows, tile_cols)
            products = layer._scratch("_window_grads", worker).get((16, filters, count), layer.dtype)
            np.matmul(transformed, inputs, out=products)
            kernels.winograd_output(products, bias, rectify, y, samples.start, tile_rows, tile_cols)

    chunks = _chunks(len(x), 16 * (channels + filters) * tiles * layer.dtype.itemsize)
    parallel.split(work, chunks, parallel.workers())
    return y.transpose(1, 0, 2, 3)


def weight_gradient(layer, grad: np.ndarray) -> np.ndarray:
    """The gradient of ``layer``'s weight ``(channels, 3, 3, filters)`` for the output gradient ``grad``: per
    element of the tile, the transformed output gradients ``A g A^T`` times the transformed input tiles, summed
    over tiles (each chunk thread its own part, added in order), then ``G^T dU G``."""
    channels, filters = layer.input_shape[0], layer.filters
    tile_rows, tile_cols = -(-layer.rows.out // 2), -(-layer.cols.out // 2)
    tiles, upstream = tile_rows * tile_cols, grad.transpose(1, 0, 2, 3)

    def work(worker, chunks):
        total = np.zeros((16, filters, channels), layer.dtype)
        for samples in chunks:
            count = (samples.stop - samples.start) * tiles
            inputs = layer._scratch("_cols", worker).get((16, channels, count), layer.dtype)
            kernels.winograd_input(layer._source, inputs, layer.rows, layer.cols, samples.start, tile_rows, tile_cols)
            grads = layer._scratch("_window_grads", worker).get((16, filters, count), layer.dtype)
            kernels.winograd_gradient(upstream, grads, samples.start, tile_rows, tile_cols)
            total += np.matmul(grads, inputs.transpose(0, 2, 1))
        return total

    parts = parallel.split(
        work, _chunks(len(grad), 16 * (channels + filters) * tiles * layer.dtype.itemsize), parallel.workers()
    )
    total = parts[0]
    for part in parts[1:]:
        total += part
    g = FILTER_TRANSFORM.astype(layer.dtype)
    return np.einsum("ai,abfc,bj->cijf", g, total.reshape(4, 4, filters, channels), g)


def _chunks(batch: int, bytes_per_sample: int) -> list[slice]:
    """Chunks of samples of about :data:`CHUNK_BYTES` each, at least one for every worker."""
    step = min(max(1, CHUNK_BYTES // bytes_per_sample), -(-batch // parallel.workers()))
    return [slice(start, min(start + step, batch)) for start in range(0, batch, step)]
