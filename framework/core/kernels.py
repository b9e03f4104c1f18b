"""Optional compiled kernels (numba, the ``fast`` extra) with plain NumPy everywhere else.

- ``adam_kernel()``: Adam's whole update in one pass over the parameters instead
  of about ten array passes. The optimizers fall back to NumPy without numba.
- ``flush_denormals()``: while training, treat denormal floats as zero (the x86
  FTZ and DAZ bits). Adam's moments of dead units decay into denormals, and
  arithmetic on them is several times slower. The previous mode is restored after.

numba is imported on first use only: it costs a second, and a config error
should not wait for it.
"""

import functools
import os
import platform
from contextlib import contextmanager

DISABLE_ENV = "FRAMEWORK_DISABLE_KERNELS"
_FTZ_DAZ = 0x8040  # MXCSR bit 15 (flush to zero) and bit 6 (denormals are zero)


def kernels_enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() in ("", "0", "false", "no")


@functools.cache
def _numba():
    try:
        import numba
    except ImportError:
        return None
    return numba


def numba_available() -> bool:
    return _numba() is not None


@functools.cache
def adam_kernel():
    """The fused Adam update, or None when numba is missing or kernels are disabled."""
    numba = _numba()
    if numba is None:
        return None

    @numba.njit(cache=True, nogil=True, fastmath=False)
    def adam_update(w, g, m, v, lr, beta1, beta2, eps, bias1, bias2, weight_decay, decoupled):
        step = lr / bias1
        inv_sqrt_bias2 = 1.0 / bias2**0.5
        shrink = 1.0 - lr * weight_decay
        for i in range(w.size):
            gi = g[i]
            if weight_decay != 0.0:
                if decoupled:
                    w[i] *= shrink
                else:
                    gi = gi + weight_decay * w[i]
            mi = beta1 * m[i] + (1.0 - beta1) * gi
            vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
            m[i] = mi
            v[i] = vi
            w[i] -= step * mi / (vi**0.5 * inv_sqrt_bias2 + eps)

    return adam_update


@functools.cache
def _mxcsr_functions():
    numba = _numba()
    if numba is None or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    def call(builder, name, slot):
        signature = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        function = cgutils.get_or_insert_function(builder.module, signature, name)
        builder.call(function, [builder.bitcast(slot, ir.IntType(8).as_pointer())])

    @intrinsic
    def read(typingctx):
        def codegen(context, builder, signature, args):
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            call(builder, "llvm.x86.sse.stmxcsr", slot)
            return builder.load(slot)

        return types.uint32(), codegen

    @intrinsic
    def write(typingctx, value):
        def codegen(context, builder, signature, args):
            call(builder, "llvm.x86.sse.ldmxcsr", cgutils.alloca_once_value(builder, args[0]))
            return context.get_dummy_value()

        return types.void(types.uint32), codegen

    @numba.njit
    def get_mxcsr():
        return read()

    @numba.njit
    def set_mxcsr(value):
        write(value)

    return get_mxcsr, set_mxcsr


@contextmanager
def flush_denormals():
    """Flush denormals to zero in this thread for the block (x86 with numba); else do nothing."""
    functions = _mxcsr_functions() if kernels_enabled() else None
    if functions is None:
        yield False
        return
    get_mxcsr, set_mxcsr = functions
    previous = get_mxcsr()
    set_mxcsr(previous | _FTZ_DAZ)
    try:
        yield True
    finally:
        set_mxcsr(previous)


def mxcsr() -> int | None:
    """The current MXCSR value (for tests), or None where it cannot be read."""
    functions = _mxcsr_functions()
    return None if functions is None else int(functions[0]())
