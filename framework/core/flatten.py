"""Flatten: the bridge from images to dense layers."""

import numpy as np

from framework.core.layer import Layer


class Flatten(Layer):
    """Each sample's array as one row of features: ``(batch, ...)`` -> ``(batch, product of the rest)``."""

    name = "flatten"
    example_input_shape = (2, 3, 2)

    def build(self, input_shape, rng):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        return x.reshape(len(x), -1)

    def backward(self, grad):
        return grad.reshape(len(grad), *self.input_shape)
