import warnings

import numpy as np
import pytest

from framework.core import LeakyReLU, Sequential, Sigmoid, Softmax


def built(layer, features=3, dtype="float64"):
    Sequential([layer], input_shape=(features,), rng=np.random.default_rng(0), dtype=dtype)
    return layer


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_has_no_overflow_for_inputs_up_to_1e4(dtype):
    layer = built(Sigmoid(), dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = layer.forward(np.array([[-1e4, 0.0, 1e4]], dtype=dtype))
        grad = layer.backward(np.ones((1, 3), dtype=dtype))
    assert out.dtype == np.dtype(dtype)
    assert np.array_equal(out, [[0.0, 0.5, 1.0]])
    assert np.isfinite(grad).all()


def test_softmax_backward_equals_the_per_sample_jacobian():
    rng = np.random.default_rng(0)
    layer = built(Softmax(), features=5)
    x, upstream = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    s = layer.forward(x)
    expected = np.stack([(np.diag(row) - np.outer(row, row)) @ g for row, g in zip(s, upstream)])
    assert np.allclose(layer.backward(upstream), expected)


def test_leaky_relu_slope():
    layer = built(LeakyReLU(alpha=0.2), features=2)
    assert np.allclose(layer.forward(np.array([[-1.0, 3.0]])), [[-0.2, 3.0]])
    assert np.allclose(layer.backward(np.ones((1, 2))), [[0.2, 1.0]])
