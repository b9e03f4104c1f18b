"""The kit's gradient checks: a layer's or loss's analytic gradient against central
differences, in float64, by relative error (see ``framework.testing``)."""

import copy

import numpy as np

from framework.core.layer import Layer
from framework.core.losses import Loss
from framework.core.model import Sequential


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if denominator == 0.0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / denominator)


def numeric_gradient(f, array: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function ``f()`` with respect to ``array``, changed in place."""
    grad = np.zeros_like(array, dtype=np.float64)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + h
        plus = f()
        flat[i] = original - h
        minus = f()
        flat[i] = original
        flat_grad[i] = (plus - minus) / (2 * h)
    return grad


def check_layer_gradients(
    layer: Layer,
    input_shape: tuple[int, ...] | None = None,
    *,
    batch: int = 3,
    training: bool = True,
    seed: int = 0,
    tolerance: float = 1e-6,
    x: np.ndarray | None = None,
) -> dict[str, float]:
    """Check ``layer.backward`` against central differences for its input and every parameter.

    The layer is built in float64 inside a one-layer model, for samples of ``input_shape``
    (default: the layer's ``example_input_shape``). Randomness the layer
    draws in ``forward`` (dropout masks) is replayed identically for every
    evaluation by restoring the generator's state. Returns the relative errors.
    """
    rng = np.random.default_rng(seed)
    input_shape = layer.example_input_shape if input_shape is None else input_shape
    model = Sequential([layer], input_shape=input_shape, rng=rng, dtype="float64")
    if x is None:
        x = rng.normal(size=(batch, *input_shape))
    x = np.array(x, dtype=np.float64)
    upstream = rng.normal(size=(x.shape[0], *model.output_shape))
    replay = copy.deepcopy(rng.bit_generator.state)

    def objective() -> float:
        rng.bit_generator.state = replay
        return float(np.sum(model.forward(x, training) * upstream))

    objective()
    grad_x = model.backward(upstream.copy())
    errors = {"input": relative_error(grad_x, numeric_gradient(objective, x))}
    for parameter in model.parameters():
        analytic = parameter.grad.copy()
        errors[parameter.name] = relative_error(analytic, numeric_gradient(objective, parameter.value))
    _assert_small(type(layer).__name__, errors, tolerance)
    return errors


def check_loss_gradients(
    loss: Loss,
    pred: np.ndarray | None = None,
    target: np.ndarray | None = None,
    *,
    batch: int = 4,
    classes: int = 3,
    seed: int = 0,
    tolerance: float = 1e-6,
) -> float:
    """Check ``loss.backward`` against central differences with respect to the prediction.

    Without ``pred``/``target``, inputs are made from ``loss.target_kind``: for
    ``"class_index"`` losses, probabilities-like predictions in (0.05, 0.95) and
    integer labels; otherwise normal predictions and targets in [0, 1].
    """
    rng = np.random.default_rng(seed)
    if pred is None:
        if loss.target_kind == "class_index":
            pred = rng.uniform(0.05, 0.95, size=(batch, classes))
            target = rng.integers(0, classes, size=batch) if target is None else target
        else:
            pred = rng.normal(size=(batch, classes))
            target = rng.uniform(0, 1, size=(batch, classes)) if target is None else target
    pred = np.array(pred, dtype=np.float64)
    loss.forward(pred, target)
    analytic = np.asarray(loss.backward(), dtype=np.float64)
    if analytic.shape != pred.shape:
        raise AssertionError(f"{type(loss).__name__}.backward returned shape {analytic.shape}, expected {pred.shape}")
    error = relative_error(analytic, numeric_gradient(lambda: loss.forward(pred, target), pred))
    _assert_small(type(loss).__name__, {"prediction": error}, tolerance)
    return error


def _assert_small(owner: str, errors: dict[str, float], tolerance: float) -> None:
    bad = {name: error for name, error in errors.items() if not error < tolerance}
    if bad:
        details = ", ".join(f"{name}: {error:.3g}" for name, error in bad.items())
        raise AssertionError(f"{owner}: gradient check failed (relative error >= {tolerance:g}) for {details}")
