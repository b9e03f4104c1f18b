"""Pooling over channels-first images, each as a few whole-array operations per kernel tap.

With the compiled kernels (:mod:`framework.core.kernels`), max and average pooling run as one pass
forward and one backward, a slice of channels per chunk thread; the NumPy code is their reference
and gives the same values."""

import numpy as np

from framework.core import kernels, parallel
from framework.core.activations import rectify_gradient
from framework.core.layer import Layer
from framework.core.windows import (
    Scratch,
    WindowAxis,
    check_fits,
    compact,
    image_shape,
    pair,
    tap_views,
    window_axis,
)


class _Pool2D(Layer):
    """Windows of ``kernel_size`` moving ``stride`` pixels (default: the kernel size), no padding."""

    example_config = {"kernel_size": 2}
    example_input_shape = (2, 5, 4)

    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        owner = type(self).__name__
        self.kernel_size = pair(owner, "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else pair(owner, "stride", stride)
        self._input_grad, self._stage_grad = Scratch(), Scratch()
        self._compiled = False

    def build(self, input_shape, rng):
        channels, height, width = image_shape(type(self).__name__, input_shape)
        self.rows = window_axis(height, self.kernel_size[0], self.stride[0], 1, "valid")
        self.cols = window_axis(width, self.kernel_size[1], self.stride[1], 1, "valid")
        check_fits(type(self).__name__, self.rows, self.cols)
        return (channels, self.rows.out, self.cols.out)

    def _zeroed_input_grad(self, batch: int) -> np.ndarray:
        """A zeroed, reused ``(batch, channels, rows, cols)`` array, channel-major in memory as ``Conv2D``'s output."""
        channels, height, width = self.input_shape
        grad = self._input_grad.get((channels, batch, height, width), self.dtype)
        grad[...] = 0
        return grad.transpose(1, 0, 2, 3)

    def _compiled_forward(self, x: np.ndarray, kernel, *extra) -> np.ndarray:
        """``kernel(x, y, *extra, rows, cols)`` on channel-major views, a slice of channels per worker."""
        channels, batch = self.input_shape[0], len(x)
        y = np.empty((channels, batch, self.rows.out, self.cols.out), self.dtype)
        source = x.transpose(1, 0, 2, 3)

        def part(span):
            kernel(source[span], y[span], *(a[span] for a in extra), self.rows, self.cols)

        parallel.over_slices(part, channels, x.size)
        return y.transpose(1, 0, 2, 3)

    def _compiled_backward(self, grad: np.ndarray, kernel, *extra, rectified=None) -> np.ndarray:
        """``kernel(grad, *extra, input_grad, rows, cols[, rectified])`` on channel-major views, a slice of channels
        per worker."""
        channels, height, width = self.input_shape
        input_grad = self._input_grad.get((channels, len(grad), height, width), self.dtype)
        upstream = grad.transpose(1, 0, 2, 3)
        inputs = None if rectified is None else rectified.transpose(1, 0, 2, 3)

        def part(span):
            more = () if inputs is None else (inputs[span],)
            kernel(upstream[span], *(a[span] for a in extra), input_grad[span], self.rows, self.cols, *more)

        parallel.over_slices(part, channels, input_grad.size)
        return input_grad.transpose(1, 0, 2, 3)

    def _uses_kernels(self, x: np.ndarray) -> bool:
        """Whether this batch goes through the compiled kernels."""
        self._compiled = kernels.accepts_images(x)
        return self._compiled

    def get_config(self):
        stride = None if self.stride == self.kernel_size else compact(self.stride)
        return {"kernel_size": compact(self.kernel_size), "stride": stride}


class MaxPool2D(_Pool2D):
    """The largest value of each window. Backward routes each window's gradient to its
    first largest input (row-major within the window), as PyTorch does.

    When the windows tile the image (stride equal to the kernel, the usual 2x2 pooling),
    the maximum is taken along columns, then along rows, keeping at each stage the index
    of the first largest tap; backward writes every input pixel once from those indices.
    Otherwise each kernel tap is compared with the output, one strided view at a time."""

    name = "max_pool2d"
    #: A ``ReLU`` right before it has its gradient mask applied here (``ReLU.fuse_following``), in the same pass
    #: as the routing with the compiled kernels.
    can_rectify_input_gradient = True
    rectifies_input_gradient = False

    def forward(self, x, training=False):
        if self.rectifies_input_gradient:
            self.x = x
        if self._uses_kernels(x):
            self._index = np.empty((self.input_shape[0], len(x), self.rows.out, self.cols.out), np.int32)
            return self._compiled_forward(x, kernels.max_pool, self._index)
        if self.stride == self.kernel_size:
            return self._tiled_forward(x)
        self.x = x
        taps = tap_views(x, self.rows, self.cols)
        _, first = next(taps)
        self.y = first.copy(order="K")  # keeps the input's memory order
        for _, view in taps:
            np.maximum(self.y, view, out=self.y)
        return self.y

    def backward(self, grad):
        rectified = self.x if self.rectifies_input_gradient else None
        if self._compiled:
            return self._compiled_backward(grad, kernels.max_pool_backward, self._index, rectified=rectified)
        input_grad = self._routed_backward(grad)
        return input_grad if rectified is None else rectify_gradient(input_grad, rectified)

    def _routed_backward(self, grad):
        if self.stride == self.kernel_size:
            return self._tiled_backward(grad)
        input_grad = self._zeroed_input_grad(len(grad))
        unrouted = np.ones(self.y.shape, dtype=bool)
        for (_, x_view), (_, grad_view) in zip(
            tap_views(self.x, self.rows, self.cols), tap_views(input_grad, self.rows, self.cols)
        ):
            winner = (x_view == self.y) & unrouted
            unrouted &= ~winner
            grad_view += grad * winner
        return input_grad

    def _tiled_forward(self, x: np.ndarray) -> np.ndarray:
        """The maximum along columns, then along rows, a slice of channels per worker (:mod:`framework.core.parallel`)."""
        rows = np.empty_like(_tap(x, 3, 0, self.cols))  # x's memory order
        self._column_index = np.empty_like(rows, dtype=np.uint8)
        self.y = np.empty_like(_tap(rows, 2, 0, self.rows))
        self._row_index = np.empty_like(self.y, dtype=np.uint8)

        def part(channels):
            _first_max(x[:, channels], 3, self.cols, rows[:, channels], self._column_index[:, channels])
            _first_max(rows[:, channels], 2, self.rows, self.y[:, channels], self._row_index[:, channels])

        parallel.over_slices(part, x.shape[1], x.size)
        return self.y

    def _tiled_backward(self, grad: np.ndarray) -> np.ndarray:
        channels, height, width = self.input_shape
        rows = self._stage_grad.get((channels, len(grad), height, self.cols.out), self.dtype).transpose(1, 0, 2, 3)
        input_grad = self._input_grad.get((channels, len(grad), height, width), self.dtype).transpose(1, 0, 2, 3)

        def part(channels):
            _route(grad[:, channels], self._row_index[:, channels], rows[:, channels], 2, self.rows)
            _route(rows[:, channels], self._column_index[:, channels], input_grad[:, channels], 3, self.cols)

        parallel.over_slices(part, channels, input_grad.size)
        return input_grad


def _tap(array: np.ndarray, axis: int, offset: int, along: WindowAxis) -> np.ndarray:
    """Every ``along.kernel``-th position of ``axis`` from ``offset``: one tap of each window tiling it."""
    index = [slice(None)] * array.ndim
    index[axis] = slice(offset, along.out * along.kernel, along.kernel)
    return array[tuple(index)]


def _first_max(x: np.ndarray, axis: int, along: WindowAxis, best: np.ndarray, index: np.ndarray) -> None:
    """Into ``best`` the maximum over windows tiling ``axis``, into ``index`` (uint8) each window's first largest tap."""
    np.copyto(best, _tap(x, axis, 0, along))
    if along.kernel == 1:
        index[...] = 0  # else the first comparison writes it all
    for offset in range(1, along.kernel):
        tap = _tap(x, axis, offset, along)
        if axis == x.ndim - 1:
            tap = tap.copy(order="K")  # NumPy's maximum is much slower on every other element than on a copy
        if offset == 1:
            np.greater(tap, best, out=index.view(bool))
        else:
            np.copyto(index, offset, where=tap > best)
        np.maximum(best, tap, out=best)


def _route(grad: np.ndarray, index: np.ndarray, out: np.ndarray, axis: int, along: WindowAxis) -> None:
    """Write ``grad`` to each window's tap ``index`` along ``axis`` of ``out``, zeros elsewhere."""
    for offset in range(along.kernel):
        np.multiply(grad, index == offset, out=_tap(out, axis, offset, along))
    left_over = [slice(None)] * out.ndim
    left_over[axis] = slice(along.out * along.kernel, None)
    out[tuple(left_over)] = 0


class AvgPool2D(_Pool2D):
    """The mean of each window; backward spreads each window's gradient evenly over it."""

    name = "avg_pool2d"

    def forward(self, x, training=False):
        if self._uses_kernels(x):
            return self._compiled_forward(x, self._kernel_with_share(kernels.average_pool))
        taps = tap_views(x, self.rows, self.cols)
        _, first = next(taps)
        y = first.copy(order="K")
        for _, view in taps:
            y += view
        y *= self._share
        return y

    @property
    def _share(self):
        return self.dtype.type(1.0 / (self.kernel_size[0] * self.kernel_size[1]))

    def _kernel_with_share(self, kernel):
        return lambda *arrays: kernel(*arrays, float(self._share))

    def backward(self, grad):
        if self._compiled:
            return self._compiled_backward(grad, self._kernel_with_share(kernels.average_pool_backward))
        input_grad = self._zeroed_input_grad(len(grad))
        share = grad * self._share
        for _, view in tap_views(input_grad, self.rows, self.cols):
            view += share
        return input_grad


class GlobalAvgPool2D(Layer):
    """The mean of each channel over all positions: ``(channels, height, width)`` -> ``(channels,)``."""

    name = "global_avg_pool2d"
    example_input_shape = (3, 2, 3)

    def build(self, input_shape, rng):
        channels, _, _ = image_shape("GlobalAvgPool2D", input_shape)
        return (channels,)

    def forward(self, x, training=False):
        return x.mean(axis=(2, 3))

    def backward(self, grad):
        _, height, width = self.input_shape
        share = grad * self.dtype.type(1.0 / (height * width))
        return np.broadcast_to(share[:, :, None, None], (len(grad), *self.input_shape)).copy()
