"""The conformance kit for component authors (and the core's own tests).

One call per kind of component: ``check_layer``, ``check_loss``, ``check_optimizer``,
``check_callback``, ``check_metric``, ``check_dataset``, ``check_schedule``, and
``check_config_files`` for the config files a plugin ships. Each raises
``AssertionError`` with a message saying what is wrong, so it reads well inside any
test runner::

    from framework.testing import check_layer, check_optimizer

    def test_my_layer():
        check_layer(MyLayer(units=3))

Gradient checks run in float64 with central differences and compare the whole
analytic gradient with the numeric one by relative error
``|a - n| / (|a| + |n|)`` (vector norms), which must be below ``tolerance``.
"""

import copy

import numpy as np

from framework.conformance.callbacks import check_callback
from framework.conformance.configs import check_config_files
from framework.conformance.datasets import check_dataset
from framework.conformance.layers import check_layer, check_loss
from framework.conformance.metrics import check_metric
from framework.conformance.schedules import check_schedule
from framework.core.errors import FrameworkError
from framework.core.layer import Layer
from framework.core.losses import Loss
from framework.core.model import Sequential
from framework.core.optimizers import Optimizer
from framework.core.parameter import Parameter

__all__ = [
    "check_callback",
    "check_config_files",
    "check_config_round_trip",
    "check_dataset",
    "check_layer",
    "check_loss",
    "check_metric",
    "check_schedule",
    "check_layer_gradients",
    "check_loss_gradients",
    "check_optimizer",
    "numeric_gradient",
    "relative_error",
]


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


def check_optimizer(optimizer_factory, *, lr: float = 0.05, steps: int = 200, seed: int = 0) -> None:
    """Sanity checks for an optimizer class or factory ``f(lr=..., **overrides) -> Optimizer``.

    - at learning rate ``lr`` it closes at least half the gap to the minimum of a
      convex quadratic ``0.5 * ||A w - b||^2`` (``A`` scaled to spectral norm 1);
    - a float32 parameter stays float32 and finite;
    - ``state_dict``/``load_state_dict`` resumes to bit-identical values;
    - a negative or non-numeric learning rate is refused at construction.
    """
    problem = _Quadratic(seed)
    optimizer = optimizer_factory(lr=lr)
    name = type(optimizer).__name__
    if not isinstance(optimizer, Optimizer):
        raise AssertionError(f"{name} does not subclass framework.core.Optimizer")
    _check_descent(name, optimizer, problem, lr, steps)
    _check_resume(name, optimizer_factory, lr, problem)
    _check_refuses_bad_lr(name, optimizer_factory)


def check_config_round_trip(component) -> None:
    """``type(c)(**c.get_config())`` must give an equal config (and, for a layer, the
    same outputs with the same weights, on samples of its ``example_input_shape``)."""
    config = component.get_config()
    clone = type(component)(**config)
    if clone.get_config() != config:
        raise AssertionError(
            f"{type(component).__name__}: config does not round-trip: {config} -> {clone.get_config()}"
        )
    if isinstance(component, Layer):
        rng = np.random.default_rng(0)
        shape = component.example_input_shape
        first = Sequential([component], input_shape=shape, rng=np.random.default_rng(1), dtype="float64")
        second = Sequential([clone], input_shape=shape, rng=np.random.default_rng(2), dtype="float64")
        second.load_state_dict(first.state_dict())
        x = rng.normal(size=(3, *shape))
        if not np.array_equal(first.forward(x), second.forward(x)):
            raise AssertionError(f"{type(component).__name__}: a clone with the same weights computes other outputs")


class _Quadratic:
    """The convex quadratic ``0.5 * ||A w - b||^2`` (float32 ``A`` scaled to spectral norm 1, float32 ``b``),
    its minimum ``best`` and a float32 ``start``."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        a = rng.normal(size=(6, 4))
        self.a = (a / np.linalg.norm(a, 2)).astype(np.float32)
        self.b = rng.normal(size=6).astype(np.float32)
        self.best = np.linalg.lstsq(self.a.astype(np.float64), self.b.astype(np.float64), rcond=None)[0]
        self.start = rng.normal(size=4).astype(np.float32)

    def objective(self, w: np.ndarray) -> float:
        return 0.5 * float(np.sum((self.a @ w - self.b) ** 2))

    def gap(self, w: np.ndarray) -> float:
        """How far ``w`` is above the minimum."""
        return self.objective(w) - self.objective(self.best)

    def parameter(self) -> Parameter:
        """A fresh float32 parameter at the start point."""
        return Parameter("w", (4,), None, self.start.copy(), np.zeros(4, np.float32))

    def descend(self, optimizer: Optimizer, parameter: Parameter, steps: int) -> None:
        for _ in range(steps):
            parameter.grad[...] = self.a.T @ (self.a @ parameter.value - self.b)
            optimizer.step([parameter])


def _check_descent(name: str, optimizer: Optimizer, problem: _Quadratic, lr: float, steps: int) -> None:
    parameter = problem.parameter()
    problem.descend(optimizer, parameter, steps)
    if parameter.value.dtype != np.float32:
        raise AssertionError(f"{name} changed a float32 parameter to {parameter.value.dtype}")
    if not np.isfinite(parameter.value).all():
        raise AssertionError(f"{name} produced non-finite parameters")
    before, after = problem.gap(problem.start), problem.gap(parameter.value)
    if not after <= 0.5 * before:
        raise AssertionError(
            f"{name} closed too little of the gap to the minimum of a convex quadratic in {steps} steps "
            f"at lr={lr}: {before:.4g} -> {after:.4g}"
        )


def _check_resume(name: str, optimizer_factory, lr: float, problem: _Quadratic) -> None:
    """Ten steps in one run must equal five, a ``state_dict`` round trip to a new optimizer, and five more."""
    straight, straight_parameter = optimizer_factory(lr=lr), problem.parameter()
    problem.descend(straight, straight_parameter, 10)
    first, resumed_parameter = optimizer_factory(lr=lr), problem.parameter()
    problem.descend(first, resumed_parameter, 5)
    second = optimizer_factory(lr=lr)
    second.load_state_dict(first.state_dict())
    problem.descend(second, resumed_parameter, 5)
    if not np.array_equal(straight_parameter.value, resumed_parameter.value):
        raise AssertionError(f"{name}: resuming from state_dict() does not reproduce the uninterrupted run")


def _check_refuses_bad_lr(name: str, optimizer_factory) -> None:
    for bad in (-0.1, "abc"):
        try:
            optimizer_factory(lr=bad)
        except (FrameworkError, ValueError, TypeError):
            continue
        raise AssertionError(f"{name} accepted lr={bad!r}; it must refuse it at construction")


def _assert_small(owner: str, errors: dict[str, float], tolerance: float) -> None:
    bad = {name: error for name, error in errors.items() if not error < tolerance}
    if bad:
        details = ", ".join(f"{name}: {error:.3g}" for name, error in bad.items())
        raise AssertionError(f"{owner}: gradient check failed (relative error >= {tolerance:g}) for {details}")
