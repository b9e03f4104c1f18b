"""Activation layers: element-wise functions and softmax, forward and backward side by side."""

import numpy as np

from framework.core import kernels, parallel
from framework.core.layer import Layer
from framework.core.validation import check_number


class ReLU(Layer):
    """``max(0, x)``; gradient 1 where x > 0, else 0. On images, with the compiled kernels, each
    direction is one pass (NumPy's backward makes a mask, then multiplies), a slice of channels per worker."""

    name = "relu"
    preferred_init = "he_normal"
    #: Set by a layer before it in a model that rectifies its own output (``Layer.fuse_following``).
    input_rectified = False
    #: Whether the layer after it multiplies the gradient by this layer's mask (:meth:`fuse_following`).
    masked_by_following = False

    def fuse_following(self, following) -> None:
        """A following layer that can (``MaxPool2D``) multiplies its input gradient by ``y > 0`` in its own
        backward pass, and this layer passes the gradient on: one pass over the gradient fewer, the same bits."""
        self.masked_by_following = getattr(following, "can_rectify_input_gradient", False)
        if self.masked_by_following:
            following.rectifies_input_gradient = True

    def forward(self, x, training=False):
        if self.input_rectified:
            self.y = x
            return x
        if x.ndim == 4 and kernels.accepts_images(x):
            self.y = np.empty_like(x)  # x's memory order, as np.maximum keeps it
            _by_channels(kernels.relu, x, self.y)
            return self.y
        if x.ndim < 2 or parallel.workers() == 1:
            self.y = np.maximum(x, 0)
            return self.y
        self.y = y = np.empty_like(x)  # x's memory order, as np.maximum keeps it
        parallel.over_slices(lambda part: np.maximum(x[:, part], 0, out=y[:, part]), x.shape[1], x.size)
        return y

    def backward(self, grad):
        if self.masked_by_following:
            return grad
        return rectify_gradient(grad, self.y)


def rectify_gradient(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``grad * (y > 0)``, in place: the backward pass of a ReLU whose output is ``y``."""
    if grad.ndim == 4 and kernels.accepts_images(grad, y):
        _by_channels(kernels.relu_backward, grad, y)
        return grad
    if grad.ndim < 2 or parallel.workers() == 1:
        return np.multiply(grad, y > 0, out=grad)
    parallel.over_slices(
        lambda part: np.multiply(grad[:, part], y[:, part] > 0, out=grad[:, part]), grad.shape[1], grad.size
    )
    return grad


def _by_channels(kernel, *images: np.ndarray) -> None:
    """``kernel(*views)`` on the ``(channels, batch, rows, cols)`` views of ``images``, a slice of channels per worker."""
    views = [image.transpose(1, 0, 2, 3) for image in images]
    parallel.over_slices(lambda part: kernel(*(view[part] for view in views)), len(views[0]), images[0].size)


class LeakyReLU(Layer):
    """``x`` where x > 0, else ``alpha * x``; gradient 1 or ``alpha``."""

    name = "leaky_relu"
    preferred_init = "he_normal"

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        self.alpha = check_number("LeakyReLU", "alpha", alpha, low=0)

    def forward(self, x, training=False):
        self.positive = x > 0
        return np.where(self.positive, x, x * self.dtype.type(self.alpha))

    def backward(self, grad):
        return np.where(self.positive, grad, grad * self.dtype.type(self.alpha))

    def get_config(self):
        return {"alpha": self.alpha}


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow: exp is only taken of ``-|x|``."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


class Sigmoid(Layer):
    """``1 / (1 + exp(-x))``; gradient ``s * (1 - s)``."""

    name = "sigmoid"
    outputs_probabilities = True

    def forward(self, x, training=False):
        self.s = sigmoid(x)
        return self.s

    def backward(self, grad):
        return grad * self.s * (1 - self.s)


class Tanh(Layer):
    """``tanh(x)``; gradient ``1 - tanh(x)^2``."""

    name = "tanh"

    def forward(self, x, training=False):
        self.t = np.tanh(x)
        return self.t

    def backward(self, grad):
        return grad * (1 - self.t * self.t)


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so exp never overflows."""
    z = np.exp(x - x.max(axis=1, keepdims=True))
    z /= z.sum(axis=1, keepdims=True)
    return z


class Softmax(Layer):
    """Row-wise softmax. Backward applies the Jacobian ``diag(s) - s s^T`` to every
    row at once: ``s * (g - sum(g * s))``. For classification, prefer a linear
    output with the fused ``softmax_cross_entropy`` loss: it is faster and stabler."""

    name = "softmax"
    outputs_probabilities = True

    def forward(self, x, training=False):
        self.s = softmax(x)
        return self.s

    def backward(self, grad):
        s = self.s
        return s * (grad - (grad * s).sum(axis=1, keepdims=True))


class Identity(Layer):
    """Passes its input through; a placeholder activation (``activation: identity``)."""

    name = "identity"

    def forward(self, x, training=False):
        return x

    def backward(self, grad):
        return grad
