"""The optional compiled kernels (``_kernels.c`` and the files it names), and whether they are here.

The extension is built by ``pip install`` when a C compiler is present; without it
every optimizer, convolution, pooling and ReLU layer runs its NumPy path.
``FRAMEWORK_DISABLE_KERNELS=1`` hides a built extension, to compare both paths or to
rule the kernels out.

The image kernels take ``(channels, batch, rows, cols)`` views with any strides (the
layers' channel-major memory, or a slice of its channels for one thread) and release
the GIL, so the chunk threads of :mod:`framework.core.parallel` run them side by side.
"""

import os

import numpy as np

#: The interface version this module calls; a compiled file left from an older
#: checkout (``pip install -e .`` not re-run after an update) is not used.
KERNEL_VERSION = 4

try:
    from framework.core import _kernels
except ImportError:  # not built: no compiler at install time, or a source checkout
    _kernels = None
if getattr(_kernels, "VERSION", None) != KERNEL_VERSION:
    _kernels = None

if os.environ.get("FRAMEWORK_DISABLE_KERNELS", "").strip() not in ("", "0"):
    _kernels = None

KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

UNAVAILABLE_HINT = (
    "the compiled kernels (framework.core._kernels) are not built, or are out of date: reinstall with a "
    "C compiler present (pip install -e .), unset FRAMEWORK_DISABLE_KERNELS, or set fused=false"
)


def available() -> bool:
    return _kernels is not None


def accepts(param: np.ndarray, grad: np.ndarray, *state: np.ndarray) -> bool:
    """Whether the kernels can update ``param`` and ``state`` in place from ``grad``: one
    float dtype in native byte order, one size, contiguous and aligned, all but ``grad`` writable."""
    arrays = (param, grad, *state)
    return (
        _kernels is not None
        and param.dtype in KERNEL_DTYPES
        and all(
            a.dtype == param.dtype and a.size == param.size and a.flags.c_contiguous and a.flags.aligned for a in arrays
        )
        and all(a.flags.writeable for a in (param, *state))
    )


def adam(param, grad, m, v, *, beta1, beta2, eps, step_size, inv_sqrt_bias2, weight_decay, shrink, tiny) -> None:
    """One Adam step in place; the arithmetic of ``optimizers.Adam.update`` in one pass."""
    _kernels.adam(
        param,
        grad,
        m,
        v,
        beta1,
        1 - beta1,
        beta2,
        1 - beta2,
        inv_sqrt_bias2,
        eps,
        step_size,
        weight_decay,
        shrink,
        tiny,
    )


def accepts_images(*arrays: np.ndarray) -> bool:
    """Whether the image kernels can take ``arrays``: one float dtype they compile for, aligned."""
    return (
        _kernels is not None
        and arrays[0].dtype in KERNEL_DTYPES
        and all(a.dtype == arrays[0].dtype and a.flags.aligned for a in arrays)
    )


def _axis(axis) -> tuple[int, ...]:
    """A ``windows.WindowAxis`` as the kernels read it."""
    return (axis.before, axis.kernel, axis.stride, axis.dilation, axis.out, axis.padded)


def im2col(images: np.ndarray, windows: np.ndarray, rows, cols, first_sample: int, width: int) -> None:
    """Into the contiguous ``windows`` ``(channels, kernel_rows, kernel_cols, samples, rows.out, width)``, the
    windows of samples from ``first_sample`` of ``images`` (channel-major), as ``Conv2D``'s NumPy path copies them
    from its padded source: padding read as zeros, and with ``width`` the padded width, runs of whole padded rows."""
    _kernels.im2col(images, windows, _axis(rows), _axis(cols), first_sample, width)


def col2im(window_grads: np.ndarray, images_grad: np.ndarray, rows, cols, first_sample: int, width: int) -> None:
    """Adds ``window_grads`` (laid out as :func:`im2col` writes windows) onto the pixels of ``images_grad``
    (channel-major) they read, taps in row-major order; padding and extra row-run columns are skipped."""
    _kernels.col2im(window_grads, images_grad, _axis(rows), _axis(cols), first_sample, width)


# The Winograd transforms of F(block x block, 3x3), ``block`` 2 or 4: tiles of (block + 2)^2 pixels, block apart,
# as arrays ``((block + 2)^2, rows, tiles)`` whose planes' rows are contiguous and the planes any distance apart.


def winograd_input(images: np.ndarray, tiles: np.ndarray, rows, cols, first_sample: int, tile_rows, tile_cols, block):
    """Into ``tiles`` ``((block + 2)^2, channels, samples * tile_rows * tile_cols)``, ``B^T d B`` of
    every input tile ``d`` (padding read as zeros) of the samples from ``first_sample`` of ``images``."""
    _kernels.winograd_input(images, tiles, _axis(rows), _axis(cols), first_sample, tile_rows, tile_cols, block)


def winograd_output(products, bias, rectify: bool, images: np.ndarray, first_sample: int, tile_rows, tile_cols, block):
    """``A^T m A`` of every tile's products ``((block + 2)^2, filters, tiles)``, plus ``bias`` (or None), through a
    ReLU with ``rectify``, into the blocks of ``images`` (channel-major) from ``first_sample``."""
    _kernels.winograd_output(products, bias, rectify, images, first_sample, tile_rows, tile_cols, block)


def winograd_gradient(grad: np.ndarray, tiles: np.ndarray, first_sample: int, tile_rows: int, tile_cols: int, block):
    """Into ``tiles`` ``((block + 2)^2, filters, samples * tile_rows * tile_cols)``, ``A g A^T`` of every block ``g``
    of the output gradient ``grad`` (channel-major; zeros past its edge) of the samples from ``first_sample``."""
    _kernels.winograd_gradient(grad, tiles, first_sample, tile_rows, tile_cols, block)


def max_pool(x, y, index, rows, cols) -> None:
    """``y`` the maximum of each window of ``x``, ``index`` (int32) its first largest tap, row-major."""
    _kernels.max_pool((x, y, index), rows.kernel, rows.stride, cols.kernel, cols.stride)


def max_pool_backward(grad, index, input_grad, rows, cols, rectified=None) -> None:
    """``input_grad``: each window's gradient at its ``index`` tap (grad * 0 at the others); zero elsewhere. With
    ``rectified`` (the pooling's input, a ReLU's output), then times ``rectified > 0``: that ReLU's backward pass."""
    arrays = (grad, index, input_grad) if rectified is None else (grad, index, input_grad, rectified)
    _kernels.max_pool_backward(arrays, rows.kernel, rows.stride, cols.kernel, cols.stride)


def average_pool(x, y, rows, cols, share: float) -> None:
    """``y`` the sum of each window of ``x``, taps in row-major order, times ``share``."""
    _kernels.average_pool((x, y), rows.kernel, rows.stride, cols.kernel, cols.stride, share)


def average_pool_backward(grad, input_grad, rows, cols, share: float) -> None:
    """``input_grad``: zero, plus ``grad * share`` of every window over it, tap by tap."""
    _kernels.average_pool_backward((grad, input_grad), rows.kernel, rows.stride, cols.kernel, cols.stride, share)


def bias_relu(x: np.ndarray, bias: np.ndarray | None, rectify: bool) -> None:
    """In place, ``x += bias`` per channel (``bias`` None: nothing added), then with ``rectify`` ``x = max(x, 0)``:
    NumPy's two passes, in one."""
    _kernels.bias_relu(x, bias, rectify)


def relu(x: np.ndarray, y: np.ndarray) -> None:
    """``y = max(x, 0)``, as ``np.maximum``."""
    _kernels.relu((x, y))


def relu_backward(grad: np.ndarray, y: np.ndarray) -> None:
    """``grad *= (y > 0)`` in place."""
    _kernels.relu_backward((grad, y))
