"""Layer normalization: a layer with parameters, built from its input shape."""

import numpy as np

from framework import Layer, Ones, Zeros, check_number


class LayerNorm(Layer):
    """Normalizes each sample over its last axis, then scales and shifts it::

        x_hat = (x - mean(x)) / sqrt(var(x) + eps)
        y = gamma * x_hat + beta

    ``gamma`` (starting at 1) and ``beta`` (starting at 0) have one entry per feature.
    Gradients, with ``n`` features and ``d = grad * gamma``::

        d_gamma = sum over samples of grad * x_hat
        d_beta  = sum over samples of grad
        d_x     = (d - mean(d) - x_hat * mean(d * x_hat)) / sqrt(var(x) + eps)

    The same computation in training and evaluation (no running statistics).
    """

    name = "layer_norm"

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = check_number("layer_norm", "eps", eps, low=0, low_open=True)

    def build(self, input_shape, rng):
        self.gamma = self.add_parameter("gamma", input_shape[-1:], Ones())
        self.beta = self.add_parameter("beta", input_shape[-1:], Zeros())
        return input_shape

    def forward(self, x, training=False):
        centered = x - x.mean(axis=-1, keepdims=True)
        self.inverse_std = 1 / np.sqrt((centered * centered).mean(axis=-1, keepdims=True) + self.dtype.type(self.eps))
        self.x_hat = centered * self.inverse_std
        return self.gamma.value * self.x_hat + self.beta.value

    def backward(self, grad):
        features = grad.shape[-1]
        self.gamma.grad[...] = (grad * self.x_hat).reshape(-1, features).sum(axis=0)
        self.beta.grad[...] = grad.reshape(-1, features).sum(axis=0)
        if not self.input_grad:
            return None
        d = grad * self.gamma.value
        mean_d = d.mean(axis=-1, keepdims=True)
        mean_d_x_hat = (d * self.x_hat).mean(axis=-1, keepdims=True)
        return (d - mean_d - self.x_hat * mean_d_x_hat) * self.inverse_std

    def get_config(self):
        return {"eps": self.eps}
