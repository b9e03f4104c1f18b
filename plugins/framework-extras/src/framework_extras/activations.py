"""The swish activation, forward and backward side by side."""

import numpy as np
from framework import Layer, check_number


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow: exp is only taken of ``-|x|``."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


class Swish(Layer):
    """``x * sigmoid(beta * x)`` (Ramachandran et al.); ``beta=1`` is SiLU.

    Gradient, with ``s = sigmoid(beta * x)``: ``s + beta * x * s * (1 - s)``.
    ``beta`` is a fixed hyperparameter (``beta >= 0``; ``beta=0`` gives ``x / 2``).
    """

    name = "swish"
    example_config = {"beta": 1.5}

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = check_number("swish", "beta", beta, low=0)

    def forward(self, x, training=False):
        beta = self.dtype.type(self.beta)
        self.x = x
        self.s = _sigmoid(beta * x)
        return x * self.s

    def backward(self, grad):
        beta = self.dtype.type(self.beta)
        s = self.s
        return grad * (s + beta * self.x * s * (1 - s))

    def get_config(self):
        return {"beta": self.beta}
