"""``check_optimizer``: descent on a convex quadratic, dtype kept, bit-identical resume
from ``state_dict``, and refusal of a bad learning rate."""

import numpy as np

from framework.core.errors import FrameworkError
from framework.core.optimizers import Optimizer
from framework.core.parameter import Parameter


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
