"""2-D convolution, channels-first, as one matrix product per batch (im2col).

Forward copies the windows of the (padded) input, a strided view, into one reused
``(channels * kernel_rows * kernel_cols, batch * out_rows * out_cols)`` matrix and
multiplies the weights by it. Backward multiplies the output gradient back through
the same matrix and scatters the window gradients onto the input with one strided
addition per kernel tap (col2im).

Inside, images are stored channel-major, ``(channels, batch, rows, cols)`` in memory,
and handed on as ``(batch, channels, rows, cols)`` views of it: then the product's
output, its gradient and every window copy run over whole contiguous image rows, and
no transposing copy is made. Elementwise layers and pooling keep that memory order;
``Flatten`` gives dense layers the features in ``(channels, rows, cols)`` order.
"""

import numpy as np

from framework.core import initializers
from framework.core.errors import ShapeError
from framework.core.layer import Layer
from framework.core.validation import check_bool, check_positive_int
from framework.core.windows import (
    Scratch,
    channel_major_windows,
    check_fits,
    compact,
    image_shape,
    padding_option,
    pair,
    tap_views,
    window_axis,
)

#: Bytes of the window matrix multiplied at a time: a batch goes through in chunks of
#: samples whose windows stay in cache between their copy and their products.
CHUNK_BYTES = 4 * 2**20


class Conv2D(Layer):
    """Cross-correlation of ``(batch, channels, height, width)`` images with ``filters`` kernels.

    ``y[n, f, r, c] = b[f] + sum_{ch, i, j} W[ch, i, j, f] * x_pad[n, ch, r*s + i*d, c*s + j*d]``
    with stride ``s`` and dilation ``d`` per axis. ``padding``: ``"valid"`` (none),
    ``"same"`` (output size ``ceil(size / stride)``, the odd pixel after), or a number
    (or ``[rows, columns]``) of zero pixels on each side. The weight has shape
    ``(channels, kernel_rows, kernel_cols, filters)``: fan-in ``channels * kernel area``,
    fan-out ``filters``.
    """

    name = "conv2d"
    example_config = {"filters": 2, "kernel_size": 3, "padding": "same"}
    example_input_shape = (2, 5, 4)
    is_linear = True

    def __init__(
        self,
        filters: int,
        kernel_size=3,
        *,
        stride=1,
        padding="valid",
        dilation=1,
        init="glorot_uniform",
        bias_init="zeros",
        use_bias: bool = True,
    ):
        super().__init__()
        self.filters = check_positive_int("Conv2D", "filters", filters)
        self.kernel_size = pair("Conv2D", "kernel_size", kernel_size)
        self.stride = pair("Conv2D", "stride", stride)
        self.padding = padding_option("Conv2D", padding)
        self.dilation = pair("Conv2D", "dilation", dilation)
        self.init = initializers.get(init)
        self.bias_init = initializers.get(bias_init)
        self.use_bias = check_bool("Conv2D", "use_bias", use_bias)
        self._cols, self._padded = Scratch(), Scratch(zeroed=True)
        self._window_grads, self._input_grad = Scratch(), Scratch()
        self._source: np.ndarray | None = None

    def build(self, input_shape, rng):
        channels, height, width = image_shape("Conv2D", input_shape)
        per_axis = (self.padding, self.padding) if isinstance(self.padding, str) else self.padding
        self.rows = window_axis(height, self.kernel_size[0], self.stride[0], self.dilation[0], per_axis[0])
        self.cols = window_axis(width, self.kernel_size[1], self.stride[1], self.dilation[1], per_axis[1])
        check_fits("Conv2D", self.rows, self.cols)
        self.weight = self.add_parameter("weight", (channels, *self.kernel_size, self.filters), self.init)
        self.bias = self.add_parameter("bias", (self.filters,), self.bias_init) if self.use_bias else None
        return (self.filters, self.rows.out, self.cols.out)

    @property
    def _window_size(self) -> int:
        return self.input_shape[0] * self.kernel_size[0] * self.kernel_size[1]

    def forward(self, x, training=False):
        filters, positions = self.filters, self.rows.out * self.cols.out
        self._source = self._channel_major_padded(x)
        y = np.empty((filters, len(x), self.rows.out, self.cols.out), self.dtype)
        weights, rows = self.weight.value.reshape(-1, filters).T, y.reshape(filters, -1)
        for samples, windows in self._window_chunks(self._source):
            out = rows[:, samples.start * positions : samples.stop * positions]
            np.matmul(weights, windows, out=out)
            if self.bias is not None:
                out += self.bias.value[:, None]
        return y.transpose(1, 0, 2, 3)

    def _window_chunks(self, padded: np.ndarray):
        """``(samples, windows)`` per chunk of samples: the im2col matrix of those samples, in one
        reused array small enough to stay in cache while it is multiplied."""
        rows, cols, batch = self.rows, self.cols, padded.shape[1]
        step = max(1, CHUNK_BYTES // (self._window_size * rows.out * cols.out * self.dtype.itemsize))
        for start in range(0, batch, step):
            samples = slice(start, min(start + step, batch))
            count = samples.stop - start
            matrix = self._cols.get((*self.weight.shape[:3], count, rows.out, cols.out), self.dtype)
            np.copyto(matrix, channel_major_windows(padded[:, samples], rows, cols))
            yield samples, matrix.reshape(self._window_size, -1)

    def _channel_major_padded(self, x: np.ndarray) -> np.ndarray:
        """``x`` as ``(channels, batch, rows, cols)``: a view without padding, else a reused padded copy."""
        rows, cols = self.rows, self.cols
        channel_major = x.transpose(1, 0, 2, 3)
        if rows.before == rows.after == cols.before == cols.after == 0:
            return channel_major
        padded = self._padded.get((self.input_shape[0], len(x), rows.padded, cols.padded), self.dtype)
        padded[:, :, rows.before : rows.before + rows.size, cols.before : cols.before + cols.size] = channel_major
        return padded

    def backward(self, grad):
        filters, batch = self.filters, len(grad)
        if self._source is None or self._source.shape[1] != batch:
            raise ShapeError("Conv2D.backward needs the forward pass of the same batch")
        grad_rows = grad.transpose(1, 0, 2, 3).reshape(filters, -1)  # a view when grad is channel-major
        if self.bias is not None:
            np.add.reduce(grad_rows, axis=1, out=self.bias.grad)
        weight_grad, positions = self.weight.grad.reshape(-1, filters), self.rows.out * self.cols.out
        weight_grad[...] = 0
        input_grad = self._zeroed_input_grad(batch) if self.input_grad else None
        for samples, windows in self._window_chunks(self._source):
            part = grad_rows[:, samples.start * positions : samples.stop * positions]
            weight_grad += windows @ part.T
            if input_grad is not None:
                self._col2im(part, input_grad[:, samples])
        if input_grad is None:
            return None
        rows, cols = self.rows, self.cols
        inside = input_grad[:, :, rows.before : rows.before + rows.size, cols.before : cols.before + cols.size]
        return inside.transpose(1, 0, 2, 3)

    def _zeroed_input_grad(self, batch: int) -> np.ndarray:
        grad = self._input_grad.get((self.input_shape[0], batch, self.rows.padded, self.cols.padded), self.dtype)
        grad[...] = 0
        return grad

    def _col2im(self, grad_rows: np.ndarray, padded: np.ndarray) -> None:
        """Add the window gradients ``weights @ grad_rows`` onto the (padded) input pixels they read:
        one strided addition per kernel tap."""
        window_grads = self._window_grads.get((self._window_size, grad_rows.shape[1]), self.dtype)
        np.matmul(self.weight.value.reshape(-1, self.filters), grad_rows, out=window_grads)
        window_grads = window_grads.reshape(*self.weight.shape[:3], *padded.shape[1:2], self.rows.out, self.cols.out)
        for (i, j), view in tap_views(padded, self.rows, self.cols):
            view += window_grads[:, i, j]

    def get_config(self):
        return {
            "filters": self.filters,
            "kernel_size": compact(self.kernel_size),
            "stride": compact(self.stride),
            "padding": compact(self.padding),
            "dilation": compact(self.dilation),
            "init": initializers.to_config(self.init),
            "bias_init": initializers.to_config(self.bias_init),
            "use_bias": self.use_bias,
        }
