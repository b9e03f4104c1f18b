"""What a trained model accepts as input where it is served (the logged MLflow model's
``predict``): finite numbers its dtype can hold, as a batch of samples of its input shape.
Each refusal names the first bad sample and the way to fix the input."""

import math

import numpy as np

from framework.core.errors import InvalidValueError


def check_representable(x: np.ndarray, dtype) -> None:
    """Inputs the model can compute with: finite, and within its dtype's range (1e39 is infinity
    in float32)."""
    if x.dtype.kind not in "fc" or x.ndim == 0 or not x.size:
        return  # not numbers to check here; a single value is refused by its shape
    largest = float(np.finfo(dtype).max)
    low, high = x.min(), x.max()  # NaN propagates; infinity and overflow show at the ends
    if np.isfinite(low) and np.isfinite(high) and max(abs(low), abs(high)) <= largest:
        return
    bad = tuple(int(i) for i in np.argwhere(~(np.abs(x) <= largest))[0])  # the first NaN, infinity or overflow
    raise InvalidValueError(
        f"model input: sample {bad[0]} holds {x[bad]} at position {bad[1:]}; the model computes with finite "
        f"{np.dtype(dtype).name} numbers (magnitude up to {largest:.3g}): replace or drop that sample"
    )


def exact_samples(x: np.ndarray, input_shape: tuple[int, ...], dtype) -> np.ndarray:
    """``x`` when it is a batch of samples of ``input_shape`` and ``dtype``, as the logged
    signature says; anything else is refused, as MLflow's signature check refuses it."""
    if x.shape[1:] != tuple(input_shape):
        raise InvalidValueError(
            f"model input: each sample must have shape {tuple(input_shape)}, got an array of shape {x.shape}; "
            f"give an array of shape (n, {', '.join(map(str, input_shape))}), one sample per row (no label column)"
        )
    if x.dtype != np.dtype(dtype):
        raise InvalidValueError(
            f"model input: the model takes {np.dtype(dtype).name} arrays, got {x.dtype}; "
            f"convert it first: x.astype('{np.dtype(dtype).name}')"
        )
    return x


def samples(x: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """``x`` as a batch of samples of ``input_shape``: already so, or one flat row per sample
    (a table, CSV input). Anything else is refused: a reshape would mix samples up."""
    if x.shape[1:] == tuple(input_shape):
        return x
    width = math.prod(input_shape)
    if x.ndim == 2 and x.shape[1] == width:
        return x.reshape(-1, *input_shape)
    if x.ndim == 1 and width == 1:
        return x.reshape(-1, 1)
    raise InvalidValueError(
        f"model input: each sample must have shape {tuple(input_shape)} (or be a row of {width} values), got an "
        f"array of shape {x.shape}; give one row per sample with the model's {width} input values "
        "(and no label column)"
    )
