"""Sliding-window geometry shared by convolution and pooling, channels-first.

Images are ``(batch, channels, height, width)``. A window of ``kernel`` taps,
``dilation`` apart, moves ``stride`` pixels at a time over the padded image.
Everything here is a strided view or a loop over the few kernel offsets: no
Python loop ever visits samples or positions.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from framework.core.errors import InvalidValueError, ShapeError
from framework.core.validation import check_positive_int


def pair(owner: str, name: str, value) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``[3, 2]`` -> ``(3, 2)``; both positive integers."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise InvalidValueError(
                f"{owner}: {name} must be an integer or a pair [rows, columns], got {value!r}", name
            )
        return check_positive_int(owner, name, value[0]), check_positive_int(owner, name, value[1])
    number = check_positive_int(owner, name, value)
    return number, number


def padding_option(owner: str, value):
    """``"valid"``, ``"same"``, or zero pixels per side as an integer or a pair (rows, columns),
    returned as ``"valid"``, ``"same"`` or a pair."""
    if value in ("valid", "same"):
        return value
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value, value]
    if len(values) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in values
    ):
        return int(values[0]), int(values[1])
    raise InvalidValueError(
        f"{owner}: padding must be 'valid', 'same', a non-negative integer or a pair of them, got {value!r}", "padding"
    )


def compact(value):
    """The inverse of :func:`pair` for configs: ``(3, 3)`` -> ``3``, ``(3, 2)`` -> ``[3, 2]``."""
    if isinstance(value, str):
        return value
    return value[0] if value[0] == value[1] else list(value)


@dataclass(frozen=True)
class WindowAxis:
    """One spatial axis: input size, window taps, stride, dilation, padding before and after."""

    size: int
    kernel: int
    stride: int = 1
    dilation: int = 1
    before: int = 0
    after: int = 0

    @cached_property  # read per chunk and kernel call: computed once (a frozen dataclass keeps no other state)
    def span(self) -> int:
        """How many input pixels one window covers."""
        return (self.kernel - 1) * self.dilation + 1

    @cached_property
    def padded(self) -> int:
        return self.size + self.before + self.after

    @cached_property
    def out(self) -> int:
        return (self.padded - self.span) // self.stride + 1

    def tap(self, offset: int) -> slice:
        """The padded-input positions that kernel tap ``offset`` reads, one per output position."""
        start = offset * self.dilation
        return slice(start, start + (self.out - 1) * self.stride + 1, self.stride)


def window_axis(size: int, kernel: int, stride: int, dilation: int, padding) -> WindowAxis:
    """The axis for one dimension; ``padding`` as :func:`padding_option` returns it, per axis."""
    span = (kernel - 1) * dilation + 1
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + span - size, 0)
        return WindowAxis(size, kernel, stride, dilation, total // 2, total - total // 2)
    amount = 0 if padding == "valid" else int(padding)
    return WindowAxis(size, kernel, stride, dilation, amount, amount)


def image_shape(owner: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ShapeError(
            f"{owner} needs images of per-sample shape (channels, height, width), got {input_shape}; "
            "load image data with data.flatten=false"
        )
    return input_shape


def check_fits(owner: str, rows: WindowAxis, cols: WindowAxis) -> None:
    if rows.padded < rows.span or cols.padded < cols.span:
        raise ShapeError(
            f"{owner}: a {rows.span}x{cols.span} window does not fit in the (padded) "
            f"{rows.padded}x{cols.padded} image; use a smaller kernel or more padding, or remove a pooling layer"
        )


def channel_major_windows(
    padded: np.ndarray, rows: WindowAxis, cols: WindowAxis, writeable: bool = False
) -> np.ndarray:
    """A view ``(channels, kernel_rows, kernel_cols, batch, out_rows, out_cols)`` of the windows
    of ``padded`` (``(channels, batch, rows, cols)``): row ``(ch, i, j)`` of the im2col matrix, per position."""
    view = sliding_window_view(padded, (rows.span, cols.span), axis=(2, 3), writeable=writeable)
    view = view[:, :, :: rows.stride, :: cols.stride, :: rows.dilation, :: cols.dilation]
    return view[:, :, : rows.out, : cols.out].transpose(0, 4, 5, 1, 2, 3)


def row_run_slack(cols: WindowAxis) -> int:
    """Elements after the last padded image that :func:`row_windows` may read: its last run overruns."""
    return (cols.kernel - 1) * cols.dilation


def row_windows(
    flat: np.ndarray, samples: slice, rows: WindowAxis, cols: WindowAxis, writeable: bool = False
) -> np.ndarray:
    """The stride-1 windows of ``samples`` of ``flat`` (``(channels, batch * padded rows * padded cols +
    slack)``, zero after the images) as ``(channels, kernel_rows, kernel_cols, samples, out_rows *
    padded_cols)``: tap ``(i, j)`` of every position of a sample is one run of ``flat``, the columns past
    ``cols.out`` in each row reading pixels no window has (they make extra output columns, dropped)."""
    image, item = rows.padded * cols.padded, flat.itemsize
    view = np.ndarray(
        (len(flat), rows.kernel, cols.kernel, samples.stop - samples.start, rows.out * cols.padded),
        flat.dtype,
        flat,  # contiguous: NumPy checks that the view stays inside it
        samples.start * image * item,
        (flat.strides[0], rows.dilation * cols.padded * item, cols.dilation * item, image * item, item),
    )
    view.flags.writeable = writeable
    return view


def tap_views(array: np.ndarray, rows: WindowAxis, cols: WindowAxis):
    """``((i, j), view)`` for each kernel tap: the ``(batch, channels, out_rows, out_cols)`` view of ``array``
    (a padded input, or its gradient) that the tap reads."""
    for i in range(rows.kernel):
        for j in range(cols.kernel):
            yield (i, j), array[:, :, rows.tap(i), cols.tap(j)]


class Scratch:
    """A contiguous scratch array reused across batches: its storage grows (never shrinks) to the
    largest size asked for, and ``get(shape)`` is a view of its start. With ``zeroed``, the view is
    zeroed whenever its shape changes, so what a caller never writes (a padding border) stays zero."""

    def __init__(self, zeroed: bool = False):
        self.zeroed = zeroed
        self.storage: np.ndarray | None = None
        self.shape: tuple[int, ...] | None = None

    def get(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        size = math.prod(shape)
        if self.storage is None or self.storage.size < size or self.storage.dtype != dtype:
            self.storage, self.shape = np.empty(size, dtype=dtype), None
        view = self.storage[:size].reshape(shape)
        if self.zeroed and shape != self.shape:
            view[...] = 0
        self.shape = shape
        return view
