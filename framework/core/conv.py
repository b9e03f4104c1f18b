"""2-D convolution, channels-first, as matrix products over im2col windows.

Forward copies the windows of the (padded) input, a strided view, into a reused
``(channels * kernel_rows * kernel_cols, samples * positions)`` matrix, a chunk of samples
at a time so that it stays in cache, and multiplies the weights by it. Backward copies
each chunk's windows again, with a row of ones under them, for the weight and bias gradients (one
product). The input gradient is either the
window gradients scattered onto the input with one strided addition per kernel tap
(col2im), or, with stride 1 and at most "same" padding, the convolution of the output
gradient with the flipped kernels (one window copy and one product, no scattering).

On the NumPy path, with stride 1, the windows are read as runs of whole padded rows: one
contiguous copy per channel, tap and sample; the padded columns past the output width give extra
product columns, dropped from the output (and zero in the gradient).

Inside, images are stored channel-major, ``(channels, batch, rows, cols)`` in memory,
and handed on as ``(batch, channels, rows, cols)`` views of it: then the product's
output, its gradient and every window copy run over whole contiguous image rows, and
no transposing copy is made. Elementwise layers and pooling keep that memory order;
``Flatten`` gives dense layers the features in ``(channels, rows, cols)`` order.

With the compiled kernels (:mod:`framework.core.kernels`), the window copy reads the unpadded input
(padding as zeros) instead of a padded copy of it, one window matrix column per output position (no
extra columns: LeNet-5's layers 5-25% faster than with row runs, which the NumPy path needs for
contiguous copies), and col2im adds onto the unpadded input gradient; the NumPy code here is their
reference. Both give the same outputs and input gradients; the weight and bias gradients, sums over
differently laid out positions, agree within their rounding.

While a model with convolutions steps, BLAS runs on one thread and the chunks of a batch
are split among as many Python threads as BLAS had (:mod:`framework.core.parallel`); each
thread sums its own part of the weight gradient, added up at the end.
"""

import numpy as np

from framework.core import initializers, kernels, parallel, winograd
from framework.core.activations import ReLU
from framework.core.errors import ShapeError
from framework.core.layer import Layer
from framework.core.parameter import Parameter
from framework.core.validation import check_bool, check_positive_int
from framework.core.windows import (
    Scratch,
    WindowAxis,
    channel_major_windows,
    check_fits,
    compact,
    image_shape,
    padding_option,
    pair,
    row_run_slack,
    row_windows,
    window_axis,
)

#: Bytes of the window matrix multiplied at a time: a batch goes through in chunks of
#: samples whose windows stay in cache between their copy and their products (1 MB, a core's
#: second-level cache here: LeNet-5 per epoch 4-5% faster than with 4 MB on one thread, 11% on two).
CHUNK_BYTES = 2**20

#: With stride 1, on the NumPy path, the window matrix is read as runs of whole padded rows (one contiguous
#: copy per channel, tap and sample), the product computing the few extra columns too, when the padded width
#: is at most this many times the output width.
ROW_RUN_WASTE = 1.5


class Conv2D(Layer):
    """Cross-correlation of ``(batch, channels, height, width)`` images with ``filters`` kernels.

    ``y[n, f, r, c] = b[f] + sum_{ch, i, j} W[ch, i, j, f] * x_pad[n, ch, r*s + i*d, c*s + j*d]``
    with stride ``s`` and dilation ``d`` per axis. ``padding``: ``"valid"`` (none),
    ``"same"`` (output size ``ceil(size / stride)``, the odd pixel after), or a number
    (or ``[rows, columns]``) of zero pixels on each side. The weight has shape
    ``(channels, kernel_rows, kernel_cols, filters)``: fan-in ``channels * kernel area``,
    fan-out ``filters``. In a model, a ``ReLU`` right after it is applied by its forward pass
    (:meth:`fuse_following`).
    """

    name = "conv2d"
    example_config = {"filters": 2, "kernel_size": 3, "padding": "same"}
    example_input_shape = (2, 5, 4)
    is_linear = True
    chunked = True  # splits its chunks among threads while a model steps (framework.core.parallel)

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
        self._window_grads, self._input_grad, self._grad_rows_buffer = Scratch(), Scratch(), Scratch(zeroed=True)
        self._worker_scratch: dict[tuple[str, int], Scratch] = {}
        self._source: np.ndarray | None = None
        self._compiled = self._rectify = False
        self._batch = 0

    def build(self, input_shape, rng):
        channels, height, width = image_shape("Conv2D", input_shape)
        per_axis = (self.padding, self.padding) if isinstance(self.padding, str) else self.padding
        self.rows = window_axis(height, self.kernel_size[0], self.stride[0], self.dilation[0], per_axis[0])
        self.cols = window_axis(width, self.kernel_size[1], self.stride[1], self.dilation[1], per_axis[1])
        check_fits("Conv2D", self.rows, self.cols)
        self.weight = self.add_parameter("weight", (channels, *self.kernel_size, self.filters), self.init)
        self.bias = self.add_parameter("bias", (self.filters,), self.bias_init) if self.use_bias else None
        self._choose_layout()
        self._winograd = winograd.choose(self)
        self._transposed = self._transposed_convolution()
        return (self.filters, self.rows.out, self.cols.out)

    def _choose_layout(self) -> None:
        compiled = kernels.available() and self.dtype in kernels.KERNEL_DTYPES
        self._row_runs = not compiled and self.stride == (1, 1) and self.cols.padded <= ROW_RUN_WASTE * self.cols.out
        self._width = self.cols.padded if self._row_runs else self.cols.out

    @property
    def _window_size(self) -> int:
        return self.input_shape[0] * self.kernel_size[0] * self.kernel_size[1]

    @property
    def _positions(self) -> int:
        """Columns of the window matrix per sample: output positions, and with row runs the extra columns."""
        return self.rows.out * self._width

    def forward(self, x, training=False):
        filters, positions = self.filters, self._positions
        self._compiled = kernels.accepts_images(x)
        self._source, self._batch = self._padded_source(x), len(x)
        if self._compiled and self._winograd:
            return winograd.forward(self, x, self._rectify)
        y = np.empty((filters, len(x), self.rows.out, self._width), self.dtype)
        weights, rows = self.weight.value.reshape(-1, filters).T, y.reshape(filters, -1)
        bias = None if self.bias is None else self.bias.value

        def work(worker, chunks):
            for samples, windows in self._window_chunks(chunks, worker):
                out = rows[:, samples.start * positions : samples.stop * positions]
                np.matmul(weights, windows, out=out)
                if self._compiled:
                    kernels.bias_relu(out[:, None, None], bias, self._rectify)
                    continue
                if bias is not None:
                    out += bias[:, None]
                if self._rectify:
                    np.maximum(out, 0, out=out)

        parallel.split(work, self._chunks(), parallel.workers())
        return y[..., : self.cols.out].transpose(1, 0, 2, 3)

    def fuse_following(self, following: Layer) -> None:
        """A following ``ReLU`` is applied here, to each chunk of the output while it is in cache, and that
        layer passes its input on: one pass over the output in memory fewer, the same values."""
        self._rectify = isinstance(following, ReLU)
        if self._rectify:
            following.input_rectified = True

    def _chunks(self) -> list[slice]:
        """The batch's chunks of samples whose window matrix is small enough to stay in cache while it is multiplied."""
        step = max(1, CHUNK_BYTES // (self._window_size * self._positions * self.dtype.itemsize))
        count = parallel.workers()
        if count > 1:  # as many chunks per worker
            chunks = -(-self._batch // step)
            step = -(-self._batch // (-(-chunks // count) * count))
        return [slice(start, min(start + step, self._batch)) for start in range(0, self._batch, step)]

    def _window_chunks(self, chunks: list[slice], worker: int = 0, ones_row: bool = False):
        """``(samples, windows)`` per chunk of samples: the im2col matrix of those samples, in one array reused
        by ``worker``; with ``ones_row``, a row of ones after the windows."""
        for samples in chunks:
            columns = (samples.stop - samples.start) * self._positions
            matrix = self._scratch("_cols", worker).get((self._window_size + ones_row, columns), self.dtype)
            windows = matrix[: self._window_size]
            if self._compiled:
                kernels.im2col(self._source, windows, self.rows, self.cols, samples.start, self._width)
            else:
                view = self._windows(self._source, samples)
                np.copyto(windows.reshape(view.shape), view)
            if ones_row:
                matrix[-1] = 1
            yield samples, matrix

    def _scratch(self, name: str, worker: int) -> Scratch:
        """Scratch array ``name`` of ``worker``: the layer's own for worker 0, one more per other worker."""
        if worker == 0:
            return getattr(self, name)
        return self._worker_scratch.setdefault((name, worker), Scratch())

    def _windows(self, source: np.ndarray, samples: slice, writeable: bool = False) -> np.ndarray:
        """The windows of ``samples`` in ``source`` (or its gradient), ``(channels, kernel_rows, kernel_cols, ...)``."""
        if self._row_runs:
            return row_windows(source, samples, self.rows, self.cols, writeable)
        return channel_major_windows(source[:, samples], self.rows, self.cols, writeable)

    def _padded_source(self, x: np.ndarray) -> np.ndarray:
        """``x`` channel-major, ``(channels, batch, rows, cols)``: a view when there is no padding to add,
        else a reused padded copy; with row runs, a reused ``(channels, batch * rows * cols + slack)`` copy.
        The compiled window copy reads ``x`` itself."""
        rows, cols = self.rows, self.cols
        channel_major = x.transpose(1, 0, 2, 3)
        if self._compiled or (not self._row_runs and rows.before == rows.after == cols.before == cols.after == 0):
            return channel_major
        padded = self._padded.get(self._source_shape(len(x)), self.dtype)
        self._grid(padded, len(x))[
            :, :, rows.before : rows.before + rows.size, cols.before : cols.before + cols.size
        ] = channel_major
        return padded

    def _source_shape(self, batch: int) -> tuple[int, ...]:
        channels, rows, cols = self.input_shape[0], self.rows, self.cols
        if self._row_runs:
            return (channels, batch * rows.padded * cols.padded + row_run_slack(cols))
        return (channels, batch, rows.padded, cols.padded)

    def _grid(self, source: np.ndarray, batch: int) -> np.ndarray:
        """The ``(channels, batch, padded rows, padded cols)`` view of a source array or its gradient."""
        return source[:, : batch * self.rows.padded * self.cols.padded].reshape(
            -1, batch, self.rows.padded, self.cols.padded
        )

    def backward(self, grad):
        batch = len(grad)
        if self._source is None or self._batch != batch:
            raise ShapeError("Conv2D.backward needs the forward pass of the same batch")
        col2im = self.input_grad and self._transposed is None
        if self._compiled and self._winograd and not col2im:  # no window matrix: no row-run copy of grad
            if self.bias is not None:
                np.add.reduce(grad.transpose(1, 0, 2, 3).reshape(self.filters, -1), axis=1, out=self.bias.grad)
            self.weight.grad[...] = winograd.weight_gradient(self, grad)
            return self._transposed_product(grad) if self.input_grad else None
        shape = (self.input_shape[0], batch, *self.input_shape[1:]) if self._compiled else self._source_shape(batch)
        input_grad = self._input_grad.get(shape, self.dtype) if col2im else None
        if col2im and not self._compiled:  # the compiled col2im writes every pixel
            input_grad[...] = 0
        self._weight_and_window_grads(grad, input_grad)
        if not self.input_grad:
            return None
        if not col2im:
            return self._transposed_product(grad)
        if self._compiled:
            return input_grad.transpose(1, 0, 2, 3)
        rows, cols = self.rows, self.cols
        inside = self._grid(input_grad, batch)[
            :, :, rows.before : rows.before + rows.size, cols.before : cols.before + cols.size
        ]
        return inside.transpose(1, 0, 2, 3)

    def _weight_and_window_grads(self, grad: np.ndarray, input_grad: np.ndarray | None) -> None:
        """The weight and bias gradients, sums over chunks (each worker's own, added up at the end), and with
        ``input_grad`` the chunks' window gradients added onto it (col2im). Each chunk's gradient rows are
        copied (with row runs) by its worker, just before its products use them. Neighbouring chunks' windows
        share a few pixels with row runs, so then, on several workers, col2im runs the even chunks, then the odd."""
        weight_grad = self.weight.grad.reshape(-1, self.filters)
        sums = [weight_grad] if self.bias is None else [weight_grad, self.bias.grad]
        for total in sums:
            total[...] = 0
        grad_rows = self._grad_rows(grad)

        def work(worker, chunks):
            totals = self._worker_sums(worker, sums)
            for samples, windows in self._window_chunks(chunks, worker, ones_row=len(sums) > 1):
                part = grad_rows(samples)
                # np.dot, not matmul: matmul holds the GIL when its output has under 500 elements (LeNet-5's
                # first layer: 25 x 6), which kept the chunk threads waiting on each other.
                product = np.dot(part, windows.T)
                totals[0] += product[:, : self._window_size].T
                if len(totals) > 1:  # the row of ones: the bias gradient, without a pass of its own over part
                    totals[1] += product[:, -1]
                if input_grad is not None:
                    self._col2im(part, input_grad, samples, worker)
            return totals

        chunks, count = self._chunks(), parallel.workers()
        overlap = input_grad is not None and count > 1 and self._row_runs
        phases = [chunks[0::2], chunks[1::2]] if overlap else [chunks]
        for phase in phases:
            for totals in parallel.split(work, phase, count)[1:]:
                for total, part in zip(sums, totals, strict=True):
                    total += part

    def _worker_sums(self, worker: int, sums: list[np.ndarray]) -> list[np.ndarray]:
        """What ``worker`` adds its chunks' gradients into: worker 0 ``sums`` themselves, the others zeroed arrays of
        their own, added to ``sums`` at the end."""
        if worker == 0:
            return sums
        partials = [self._scratch(f"_partial{k}", worker).get(t.shape, t.dtype) for k, t in enumerate(sums)]
        for partial in partials:
            partial[...] = 0
        return partials

    def _transposed_convolution(self) -> "Conv2D | None":
        """With stride 1 and no more padding than a window's span less one, the input gradient is the
        convolution of the output gradient, padded by the span less one less the padding, with the kernels
        flipped and channels and filters swapped: a layer set up to compute it, when it has no more output
        positions than this one (then it costs one window copy instead of a product and col2im), else None."""
        rows, cols = self.rows, self.cols
        if self.stride != (1, 1) or max(rows.before, rows.after, cols.before, cols.after) >= min(rows.span, cols.span):
            return None
        channels, kernel_rows, kernel_cols, filters = self.weight.shape
        transposed = Conv2D(channels, self.kernel_size, dilation=self.dilation, use_bias=False)
        transposed.dtype, transposed.input_shape = self.dtype, (filters, rows.out, cols.out)
        transposed.rows, transposed.cols = (
            WindowAxis(axis.out, axis.kernel, 1, axis.dilation, axis.span - 1 - axis.before, axis.span - 1 - axis.after)
            for axis in (rows, cols)
        )
        shape = (filters, kernel_rows, kernel_cols, channels)
        transposed.weight = Parameter("weight", shape, None, np.empty(shape, self.dtype))
        transposed.bias, transposed.output_shape = None, self.input_shape
        transposed._choose_layout()
        transposed._winograd = winograd.choose(transposed)
        return transposed if transposed._positions <= self._positions else None

    def _transposed_product(self, grad: np.ndarray) -> np.ndarray:
        self._transposed.weight.value[...] = self.weight.value[:, ::-1, ::-1, :].transpose(3, 1, 2, 0)
        return self._transposed.forward(grad)

    def _grad_rows(self, grad: np.ndarray):
        """A function of a chunk of samples giving their part of ``grad`` as ``(filters, samples * positions)``: a
        view when it is channel-major; with row runs, copied into a reused array whose extra columns are zero."""
        positions, channel_major = self._positions, grad.transpose(1, 0, 2, 3)
        if not self._row_runs:
            matrix = channel_major.reshape(self.filters, -1)
            return lambda samples: matrix[:, samples.start * positions : samples.stop * positions]
        rows = self._grad_rows_buffer.get((self.filters, len(grad), self.rows.out, self._width), self.dtype)

        def part(samples: slice) -> np.ndarray:
            rows[:, samples, :, : self.cols.out] = channel_major[:, samples]
            return rows[:, samples].reshape(self.filters, -1)

        return part

    def _col2im(self, grad_rows: np.ndarray, input_grad: np.ndarray, samples: slice, worker: int = 0) -> None:
        """Add the window gradients ``weights @ grad_rows`` onto the (padded) input pixels they read:
        one strided addition per kernel tap."""
        window_grads = self._scratch("_window_grads", worker).get((self._window_size, grad_rows.shape[1]), self.dtype)
        np.matmul(self.weight.value.reshape(-1, self.filters), grad_rows, out=window_grads)
        if self._compiled:
            kernels.col2im(window_grads, input_grad, self.rows, self.cols, samples.start, self._width)
            return
        targets = self._windows(input_grad, samples, writeable=True)
        window_grads = window_grads.reshape(targets.shape)
        for i in range(self.kernel_size[0]):
            for j in range(self.kernel_size[1]):
                targets[:, i, j] += window_grads[:, i, j]

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
