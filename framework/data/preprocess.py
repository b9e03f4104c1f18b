"""Feature preprocessing applied by ``Dataset.load``; statistics always come from the training split."""

import math

import numpy as np


def scale_to_unit(arrays: list[np.ndarray], low: float, high: float) -> None:
    """Map the known raw range ``[low, high]`` onto ``[0, 1]``, in place."""
    for array in arrays:
        array -= low
        array /= high - low


def standardize(train: np.ndarray, others: list[np.ndarray]) -> None:
    """Subtract the per-feature training mean and divide by the training std, in place.

    Features that are constant on the training split keep a std of 1 (no division by zero).
    """
    mean = train.mean(axis=0, dtype=np.float64)
    std = train.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0
    for array in (train, *others):
        array -= mean.astype(array.dtype)
        array /= std.astype(array.dtype)


def flatten(array: np.ndarray) -> np.ndarray:
    """Reshape ``(n, ...)`` to ``(n, features)`` without copying when possible."""
    return array.reshape(len(array), math.prod(array.shape[1:]))


def with_channel_axis(array: np.ndarray) -> np.ndarray:
    """Single-channel images ``(n, height, width)`` as ``(n, 1, height, width)`` (a view); other shapes unchanged."""
    return array[:, None] if array.ndim == 3 else array
