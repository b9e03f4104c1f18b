"""The swish activation, forward and backward side by side."""

from framework import Layer, check_number, sigmoid


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
        self.s = sigmoid(beta * x)
        return x * self.s

    def backward(self, grad):
        beta = self.dtype.type(self.beta)
        s = self.s
        return grad * (s + beta * self.x * s * (1 - s))

    def get_config(self):
        return {"beta": self.beta}
