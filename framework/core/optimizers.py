"""Optimizers, from simple to complex. The base class owns the loop over
parameters, the step counter and the state; a subclass writes only its update
rule (in its docstring and in ``update``) and validates its hyperparameters at
construction. State lives here, keyed by parameter name, never in the layers.

Updates are in place and keep the parameter's dtype: a float32 model stays float32.
"""

import math
from typing import ClassVar

import numpy as np

from framework.core import kernels
from framework.core.describe import describe
from framework.core.errors import InvalidValueError
from framework.core.parameter import Parameter
from framework.core.validation import check_bool, check_number


class Optimizer:
    name: ClassVar[str] = ""
    #: Names of the per-parameter state arrays the update rule keeps (created by ``step`` at
    #: ``initial_slot_value(slot)``, shaped and typed like the parameter, saved in checkpoints).
    slots: ClassVar[tuple[str, ...]] = ()

    def __init__(self, lr: float):
        owner = type(self).__name__
        self.lr = check_number(owner, "lr", lr, low=0, low_open=True)
        self.iterations = 0
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self._scratch: dict[tuple, np.ndarray] = {}

    def scratch(self, like: np.ndarray) -> np.ndarray:
        """A reusable work array shaped like ``like``, valid until the next call; saves an
        allocation (and its page faults) per operation per step."""
        key = (like.shape, like.dtype)
        buffer = self._scratch.get(key)
        if buffer is None:
            buffer = self._scratch[key] = np.empty_like(like)
        return buffer

    def step(self, parameters: list[Parameter]) -> None:
        """Apply one update to every parameter from its ``grad``."""
        self.iterations += 1
        for parameter in parameters:
            state = self.state.get(parameter.name)
            if state is None:
                state = self.state[parameter.name] = {
                    slot: np.full_like(parameter.value, self.initial_slot_value(slot)) for slot in self.slots
                }
            self.update(parameter.value, parameter.grad, state)

    def initial_slot_value(self, slot: str) -> float:
        """The value every element of ``slot`` starts at, before the first step (0 unless
        overridden: Adagrad's accumulator starts at ``initial_accumulator_value``)."""
        return 0.0

    def update(self, value: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat ``{"iterations": ..., "lr": ..., "<param>/<slot>": array}`` for ``.npz``."""
        flat = {"iterations": np.array(self.iterations), "lr": np.array(self.lr)}
        for pname, slots in self.state.items():
            for slot, array in slots.items():
                flat[f"{pname}/{slot}"] = array.copy()
        return flat

    def load_state_dict(self, flat: dict[str, np.ndarray]) -> None:
        self.iterations = int(flat["iterations"])
        self.lr = float(flat["lr"])
        self.state = {}
        for key, array in flat.items():
            if "/" in key:
                pname, slot = key.rsplit("/", 1)
                self.state.setdefault(pname, {})[slot] = np.array(array)

    def __repr__(self) -> str:
        return describe(self)


#: Moments below this are set to zero every FLUSH_EVERY steps. A unit whose gradient
#: is exactly zero (a dead ReLU) has moments that decay into denormal floats and stay
#: there (0.9 times the smallest denormal rounds back to it); arithmetic on denormals
#: is several times slower. At 1e-30 their contribution to an update is below 1e-22·lr.
TINY = 1e-30
FLUSH_EVERY = 64


def flush_tiny(array: np.ndarray) -> None:
    np.copyto(array, 0, where=np.abs(array) < TINY)


def _check_fraction(owner, name, value):
    return check_number(owner, name, value, low=0, high=1, high_open=True)


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulation::

    g = grad + weight_decay * w
    b = momentum * b + g                      (when momentum > 0)
    g = g + momentum * b  if nesterov  else b
    w = w - lr * g
    """

    name = "sgd"

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(lr)
        self.momentum = _check_fraction("SGD", "momentum", momentum)
        self.weight_decay = check_number("SGD", "weight_decay", weight_decay, low=0)
        self.nesterov = check_bool("SGD", "nesterov", nesterov)
        if self.nesterov and self.momentum == 0:
            raise InvalidValueError("SGD: nesterov=True needs momentum > 0, got momentum=0", "nesterov")
        self.slots = ("velocity",) if self.momentum else ()

    def update(self, w, grad, state):
        g = grad + self.weight_decay * w if self.weight_decay else grad
        if self.momentum:
            b = state["velocity"]
            b *= self.momentum
            b += g
            g = g + self.momentum * b if self.nesterov else b
        w -= self.lr * g

    def get_config(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov, "weight_decay": self.weight_decay}


class RMSprop(Optimizer):
    """RMSprop::

    g = grad + weight_decay * w
    v = rho * v + (1 - rho) * g^2
    d = sqrt(v - a^2) + eps, with a = rho * a + (1 - rho) * g  if centered,
        else sqrt(v) + eps
    b = momentum * b + g / d ;  w = w - lr * b     (momentum > 0)
    w = w - lr * g / d                             (otherwise)
    """

    name = "rmsprop"

    def __init__(
        self,
        lr: float = 0.01,
        rho: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        centered: bool = False,
        weight_decay: float = 0.0,
    ):
        super().__init__(lr)
        self.rho = _check_fraction("RMSprop", "rho", rho)
        self.eps = check_number("RMSprop", "eps", eps, low=0, low_open=True)
        self.momentum = _check_fraction("RMSprop", "momentum", momentum)
        self.centered = check_bool("RMSprop", "centered", centered)
        self.weight_decay = check_number("RMSprop", "weight_decay", weight_decay, low=0)
        self.slots = (
            ("square_avg",) + (("grad_avg",) if self.centered else ()) + (("momentum_buffer",) if self.momentum else ())
        )

    def update(self, w, grad, state):
        g = grad + self.weight_decay * w if self.weight_decay else grad
        v = state["square_avg"]
        v *= self.rho
        v += (1 - self.rho) * (g * g)
        if self.centered:
            a = state["grad_avg"]
            a *= self.rho
            a += (1 - self.rho) * g
            denom = np.sqrt(v - a * a)
        else:
            denom = np.sqrt(v)
        denom += self.eps
        if self.momentum:
            b = state["momentum_buffer"]
            b *= self.momentum
            b += g / denom
            w -= self.lr * b
        else:
            w -= self.lr * (g / denom)
        if self.iterations % FLUSH_EVERY == 0:
            for array in state.values():
                flush_tiny(array)

    def get_config(self):
        return {
            "lr": self.lr,
            "rho": self.rho,
            "eps": self.eps,
            "momentum": self.momentum,
            "centered": self.centered,
            "weight_decay": self.weight_decay,
        }


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba)::

    g = grad + weight_decay * w          (L2 penalty, coupled; see AdamW)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g^2
    w = w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    ``fused``: ``None`` (default) runs the compiled one-pass kernel when it is built and
    the arrays suit it, else NumPy; ``True`` requires the kernel (an error otherwise);
    ``False`` always uses NumPy. Both compute the same operations in the same order:
    the same bits.
    """

    name = "adam"
    slots = ("m", "v")
    decoupled = False

    def __init__(
        self,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        fused: bool | None = None,
    ):
        super().__init__(lr)
        owner = type(self).__name__
        self.beta1 = _check_fraction(owner, "beta1", beta1)
        self.beta2 = _check_fraction(owner, "beta2", beta2)
        self.eps = check_number(owner, "eps", eps, low=0, low_open=True)
        self.weight_decay = check_number(owner, "weight_decay", weight_decay, low=0)
        self.fused = check_bool(owner, "fused", fused, allow_none=True)
        if self.fused and not kernels.available():
            raise InvalidValueError(f"{owner}: fused=True, but {kernels.UNAVAILABLE_HINT}", "fused")

    def update(self, w, grad, state):
        t = self.iterations
        m, v = state["m"], state["v"]
        coupled = self.weight_decay if not self.decoupled else 0.0
        shrink = 1 - self.lr * self.weight_decay if self.decoupled else 1.0
        step_size = self.lr / (1 - self.beta1**t)
        inv_sqrt_bias2 = 1 / math.sqrt(1 - self.beta2**t)
        flush = t % FLUSH_EVERY == 0
        use_kernel = self.fused is not False and kernels.accepts(w, grad, m, v)
        if self.fused and not use_kernel:
            raise InvalidValueError(
                f"{type(self).__name__}: fused=True, but the kernel cannot update a parameter of dtype "
                f"{w.dtype} (it takes contiguous, aligned, writable float32 or float64 arrays of one dtype); "
                "set fused=null to use NumPy for such parameters",
                "fused",
            )
        if use_kernel:
            tiny = TINY if flush else 0.0
            kernels.adam(w, grad, m, v, beta1=self.beta1, beta2=self.beta2, eps=self.eps, step_size=step_size,
                         inv_sqrt_bias2=inv_sqrt_bias2, weight_decay=coupled, shrink=shrink, tiny=tiny)  # fmt: skip
            return
        if shrink != 1.0:
            w *= shrink
        g = grad + coupled * w if coupled else grad
        work = self.scratch(w)
        m *= self.beta1
        np.multiply(g, 1 - self.beta1, out=work)
        m += work
        v *= self.beta2
        np.multiply(g, g, out=work)
        work *= 1 - self.beta2
        v += work
        np.sqrt(v, out=work)
        work *= inv_sqrt_bias2
        work += self.eps
        np.divide(m, work, out=work)
        work *= step_size
        w -= work
        if flush:
            flush_tiny(m)
            flush_tiny(v)

    def get_config(self):
        return {
            "lr": self.lr,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "fused": self.fused,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before the Adam step,
    ``w = w * (1 - lr * weight_decay)``; the gradient itself is not changed."""

    name = "adamw"
    decoupled = True

    def __init__(
        self,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        fused: bool | None = None,
    ):
        super().__init__(lr, beta1, beta2, eps, weight_decay, fused)


def clip_grad_norm(parameters: list[Parameter], max_norm: float) -> float:
    """Scale every gradient so their global L2 norm is at most ``max_norm``; return the norm before clipping."""
    max_norm = check_number("clip_grad_norm", "max_norm", max_norm, low=0, low_open=True)
    total = float(np.sqrt(sum(float(np.dot(p.grad.ravel(), p.grad.ravel())) for p in parameters)))
    if total > max_norm:
        scale = max_norm / (total + 1e-12)
        for p in parameters:
            p.grad *= p.grad.dtype.type(scale)
    return total
