"""The optional compiled kernels (``_kernels.c``), and whether they are here.

The extension is built by ``pip install`` when a C compiler is present; without it
every optimizer runs its NumPy path. ``FRAMEWORK_DISABLE_KERNELS=1`` hides a built
extension, to compare both paths or to rule the kernel out.
"""

import os

import numpy as np

#: The interface version this module calls; a compiled file left from an older
#: checkout (``pip install -e .`` not re-run after an update) is not used.
KERNEL_VERSION = 1

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
