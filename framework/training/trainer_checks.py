"""What the Trainer refuses before it trains: components of the wrong kind, two
callbacks of one name, a layer drawing from another generator, and data that does not
fit the model."""

import numpy as np

from framework.core.errors import InvalidValueError, ShapeError
from framework.core.losses import Loss
from framework.core.model import Sequential
from framework.core.optimizers import Optimizer
from framework.core.validation import check_finite


def check_components(model, loss, optimizer, rng) -> None:
    """The model, loss and optimizer are the framework's kinds; ``rng`` is a generator."""
    if not isinstance(model, Sequential):
        raise TypeError(f"Trainer: model must be a Sequential, got {type(model).__name__}")
    if not isinstance(loss, Loss):
        raise TypeError(f"Trainer: loss must be a Loss, got {type(loss).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"Trainer: optimizer must be an Optimizer, got {type(optimizer).__name__}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("Trainer: pass rng=np.random.default_rng(seed); all randomness comes from it")


def check_callback_names(callbacks: list) -> None:
    """A checkpoint keeps each callback's state under its name, so names must differ."""
    names = [callback.name or type(callback).__name__ for callback in callbacks]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidValueError(f"Trainer: callbacks must have distinct names, {duplicates} appear more than once")


def check_layer_generators(model: Sequential, rng: np.random.Generator) -> None:
    for index, layer in enumerate(model.layers):
        layer_rng = getattr(layer, "rng", None)
        if layer_rng is not None and layer_rng is not rng:
            raise InvalidValueError(
                f"Trainer: layer {index} ({layer!r}) draws from another generator than the trainer's rng, "
                "so a checkpoint could not restore it; build the model with the same generator you give the trainer"
            )


def check_data(split: str, x, y, model: Sequential) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as arrays, ``x`` in the model's dtype; refused when empty, of unequal
    lengths, of another sample shape than the model's, or not finite."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ShapeError(f"{split} data: {len(x)} inputs but {len(y)} targets")
    if len(x) == 0:
        raise ShapeError(f"{split} data is empty")
    if x.shape[1:] != model.input_shape:
        raise ShapeError(
            f"{split} data has per-sample shape {x.shape[1:]}, the model was built for {model.input_shape}"
        )
    if x.dtype != model.dtype:
        x = x.astype(model.dtype)
    check_finite(f"{split} data", "x", x)
    check_finite(f"{split} data", "y", y)
    return x, y
