"""Layers with parameters or state: Dense, Dropout (any shape), BatchNorm (features or image channels)."""

import numpy as np

from framework.core import initializers, parallel
from framework.core.errors import ShapeError
from framework.core.layer import Layer
from framework.core.validation import check_bool, check_number, check_positive_int


def _flat_features(owner: str, input_shape: tuple[int, ...]) -> int:
    if len(input_shape) != 1:
        fix = (
            "put a flatten layer before it (or, if it is the first layer, load flat data: data.flatten=true)"
            if len(input_shape) == 3
            else "flatten the data first (data.flatten=true)"
        )
        raise ShapeError(
            f"{owner} expects flat inputs of shape (batch, features), got per-sample shape {input_shape}; {fix}"
        )
    return input_shape[0]


class Dense(Layer):
    """Fully connected: ``y = x @ W + b`` with ``W`` of shape ``(in_features, units)``."""

    name = "dense"
    example_config = {"units": 3}
    is_linear = True

    def __init__(self, units: int, *, init="glorot_uniform", bias_init="zeros", use_bias: bool = True):
        super().__init__()
        self.units = check_positive_int("Dense", "units", units)
        self.init = initializers.get(init)
        self.bias_init = initializers.get(bias_init)
        self.use_bias = check_bool("Dense", "use_bias", use_bias)

    def build(self, input_shape, rng):
        in_features = _flat_features("Dense", input_shape)
        self.weight = self.add_parameter("weight", (in_features, self.units), self.init)
        self.bias = self.add_parameter("bias", (self.units,), self.bias_init) if self.use_bias else None
        return (self.units,)

    def forward(self, x, training=False):
        self.x = x
        weight = self.weight.value
        y = parallel.matmul(x, weight, np.empty((len(x), self.units), np.result_type(x, weight)))
        if self.bias is not None:
            y += self.bias.value
        return y

    def backward(self, grad):
        parallel.matmul(self.x.T, grad, self.weight.grad)
        if self.bias is not None:
            np.add.reduce(grad, axis=0, out=self.bias.grad)
        if not self.input_grad:
            return None
        weight = self.weight.value.T
        return parallel.matmul(grad, weight, np.empty((len(grad), weight.shape[1]), np.result_type(grad, weight)))

    def get_config(self):
        return {
            "units": self.units,
            "init": initializers.to_config(self.init),
            "bias_init": initializers.to_config(self.bias_init),
            "use_bias": self.use_bias,
        }


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``rate`` and
    scale the rest by ``1 / (1 - rate)``; in evaluation, the identity."""

    name = "dropout"

    def __init__(self, rate: float = 0.5):
        super().__init__()
        self.rate = check_number("Dropout", "rate", rate, low=0, high=1, high_open=True)

    def build(self, input_shape, rng):
        self.rng = rng
        return input_shape

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=self.dtype) >= self.rate
        self.mask = keep * self.dtype.type(1.0 / (1.0 - self.rate))
        return x * self.mask

    def backward(self, grad):
        return grad if self.mask is None else grad * self.mask

    def get_config(self):
        return {"rate": self.rate}


class BatchNorm(Layer):
    """Batch normalization of dense features ``(batch, features)`` or of image channels
    ``(batch, channels, height, width)`` (statistics per channel over the batch and all
    positions). Training normalizes with the batch's mean and (biased) variance and
    updates running statistics (``running = (1 - momentum) * running + momentum * batch``,
    unbiased variance); evaluation normalizes with the running statistics."""

    name = "batch_norm"

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.momentum = check_number("BatchNorm", "momentum", momentum, low=0, high=1)
        self.eps = check_number("BatchNorm", "eps", eps, low=0, low_open=True)

    def build(self, input_shape, rng):
        if len(input_shape) not in (1, 3):
            raise ShapeError(
                f"BatchNorm normalizes features (features,) or images (channels, height, width), "
                f"got per-sample shape {input_shape}"
            )
        features = input_shape[0]
        #: Axes the statistics run over, and the shape that lines the per-feature arrays up with them.
        self.axes = (0,) if len(input_shape) == 1 else (0, 2, 3)
        self.aligned = (features,) if len(input_shape) == 1 else (features, 1, 1)
        self.gamma = self.add_parameter("gamma", (features,), initializers.Ones())
        self.beta = self.add_parameter("beta", (features,), initializers.Zeros())
        self.running_mean = self.add_buffer("running_mean", np.zeros(features))
        self.running_var = self.add_buffer("running_var", np.ones(features))
        return input_shape

    def forward(self, x, training=False):
        self.batch_statistics = training
        if training:
            mean, var = self._batch_statistics(x)
        else:
            mean, var = self.running_mean, self.running_var
        self.inv_std = (1.0 / np.sqrt(var + self.dtype.type(self.eps))).reshape(self.aligned)
        self.x_hat = (x - mean.reshape(self.aligned)) * self.inv_std
        return self.x_hat * self.gamma.value.reshape(self.aligned) + self.beta.value.reshape(self.aligned)

    def _batch_statistics(self, x):
        n = x.size // x.shape[1]  # values per feature
        if len(x) < 2:
            raise ShapeError("BatchNorm needs at least 2 samples per batch in training; use a larger batch_size")
        mean = x.mean(axis=self.axes)
        var = x.var(axis=self.axes)
        m = self.momentum
        self.running_mean *= 1 - m
        self.running_mean += m * mean
        self.running_var *= 1 - m
        self.running_var += (m * n / (n - 1)) * var
        return mean, var

    def backward(self, grad):
        x_hat = self.x_hat
        np.sum(grad * x_hat, axis=self.axes, out=self.gamma.grad)
        np.sum(grad, axis=self.axes, out=self.beta.grad)
        dx_hat = grad * self.gamma.value.reshape(self.aligned)
        if not self.batch_statistics:
            return dx_hat * self.inv_std
        n = grad.size // grad.shape[1]
        # d/dx of the batch-statistics normalization, all samples at once.
        sum_dx_hat = dx_hat.sum(axis=self.axes, keepdims=True)
        sum_dx_hat_x_hat = (dx_hat * x_hat).sum(axis=self.axes, keepdims=True)
        return (self.inv_std / n) * (n * dx_hat - sum_dx_hat - x_hat * sum_dx_hat_x_hat)

    def get_config(self):
        return {"momentum": self.momentum, "eps": self.eps}
