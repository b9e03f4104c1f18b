"""A layer's chunks of work on a few Python threads, each with one BLAS thread.

NumPy releases the GIL in array copies and matrix products, so the chunks of a
convolution (a window copy and a product each) can run side by side on Python threads:
the copies then run in parallel too, where one product on several BLAS threads only
parallelizes the product. While a model with such layers steps (:func:`chunk_threads`),
BLAS runs on one thread and the layers split their chunks among as many Python threads
as BLAS had. BLAS is not switched per layer: OpenBLAS's idle threads keep spinning for a
while after each multithreaded product, taking the core a chunk thread needs. Outside
that, without a BLAS library that threadpoolctl can control, or with one BLAS thread,
everything runs on the calling thread, as before.
"""

import contextlib
import itertools
import os
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

_state = {"blas": None, "pool": None, "size": 0, "workers": 1}


def _blas():
    if _state["blas"] is None:
        try:
            from threadpoolctl import ThreadpoolController

            found = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # no threadpoolctl, or a BLAS it cannot read: run on one thread
            found = []
        # NumPy's own BLAS, also when another library (SciPy) loaded one of its own.
        ours = [c for c in found if "numpy" in str(getattr(c, "filepath", ""))]
        _state["blas"] = ours[:1] if ours else found
    return _state["blas"]


def workers() -> int:
    """How many threads chunks run on: BLAS's thread count inside :func:`chunk_threads`, else 1."""
    return _state["workers"]


@contextlib.contextmanager
def chunk_threads(enabled: bool = True):
    """BLAS on one thread and :func:`workers` the BLAS threads there were, until the block ends;
    nothing when not ``enabled``, inside another such block, or with one (or no controllable) BLAS."""
    blas = _blas() if enabled and _state["workers"] == 1 else []  # no threadpoolctl for models without them
    threads = blas[0].get_num_threads() if len(blas) == 1 else 1
    if threads <= 1:
        yield
        return
    try:
        blas[0].set_num_threads(1)
        _state["workers"] = threads
        yield
    finally:
        _state["workers"] = 1
        blas[0].set_num_threads(threads)


def _pool(size: int) -> ThreadPoolExecutor:
    if _state["pool"] is None or _state["size"] < size:
        _state["pool"], _state["size"] = ThreadPoolExecutor(size, thread_name_prefix="framework-chunks"), size
    return _state["pool"]


def _forget_pool() -> None:
    """A forked child has none of its parent's threads."""
    _state["pool"], _state["size"] = None, 0


os.register_at_fork(after_in_child=_forget_pool)


def split(function, items: list, count: int) -> list:
    """``[function(worker, items[worker::count]) for worker in range(count)]``, worker 0 on the calling
    thread and the others on pool threads; with ``count`` 1, just ``[function(0, items)]``."""
    count = min(count, len(items))
    if count <= 1:
        return [function(0, items)]
    futures = []
    try:
        futures = [_pool(count - 1).submit(function, worker, items[worker::count]) for worker in range(1, count)]
        first = function(0, items[0::count])
        return [first, *(future.result() for future in futures)]
    finally:
        wait(futures)  # none still writing into the caller's arrays when it fails


#: Elements below which an elementwise pass is not worth handing to threads.
SPLIT_ELEMENTS = 2**16


def over_slices(function, size: int, elements: int) -> None:
    """``function(part)`` for near-equal slices ``part`` of ``range(size)``, one per worker: an elementwise pass
    over an array of ``elements`` split along an axis of length ``size`` (on the calling thread alone when small)."""
    _over_parts(function, size, workers() if elements >= SPLIT_ELEMENTS else 1)


def _over_parts(function, size: int, count: int) -> None:
    """``function(part)`` for ``count`` near-equal slices ``part`` of ``range(size)``, one per worker."""
    bounds = [size * k // count for k in range(count + 1)]
    parts = [slice(start, stop) for start, stop in itertools.pairwise(bounds) if stop > start]
    split(lambda worker, items: [function(part) for part in items], parts, count)


#: Multiply-adds below which a matrix product is not worth handing to threads: waking a thread cost more than
#: LeNet-5's dense products (6M and less) gained on two; the wide network's first (51M) ran 1.7x faster.
SPLIT_PRODUCT = 2**23


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` of 2-D arrays, the rows of ``a`` and ``out`` split among the workers when the
    product is large enough: inside :func:`chunk_threads`, where BLAS runs on one thread, a dense layer's products
    then still use every core."""
    rows, inner = a.shape
    if workers() == 1 or rows * inner * b.shape[1] < SPLIT_PRODUCT:
        return np.matmul(a, b, out=out)
    _over_parts(lambda part: np.matmul(a[part], b, out=out[part]), rows, workers())
    return out
