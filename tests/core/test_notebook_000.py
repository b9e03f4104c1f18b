"""Notebook 000's worked example through the framework: the 2-4-3-1 network with
the weights it prints, ReLU, ReLU, sigmoid output and ½·MSE. Every forward value
and every gradient it prints must come out the same."""

import numpy as np
import pytest

from framework.core import MSE, Dense, ReLU, Sequential, Sigmoid

W1 = [[-0.25091976, 0.90142861, 0.46398788, 0.19731697], [-0.68796272, -0.68801096, -0.88383278, 0.73235229]]
W2 = [
    [0.18722862, 0.38527555, -0.88770502],
    [0.87010397, 0.61556416, -0.53264447],
    [-0.58914568, -0.58622094, -0.36247293],
    [0.04584, -0.12601334, -0.38656852],
]
W3 = [[0.27398252], [-0.88305609], [-0.50913955]]


@pytest.fixture
def model():
    layers = [Dense(4), ReLU(), Dense(3), ReLU(), Dense(1), Sigmoid()]
    model = Sequential(layers, input_shape=(2,), rng=np.random.default_rng(0), dtype="float64")
    for dense, weight in zip(layers[0::2], (W1, W2, W3)):
        dense.weight.value[...] = weight
        dense.bias.value[...] = 0.0
    return model


def test_forward_values_match_the_notebook(model):
    x = np.array([[1.0, 2.0]])
    model.forward(x)
    _, relu1, dense2, relu2, _, sigmoid = model.layers
    assert np.allclose(relu1.y, [[0, 0, 0, 1.66202155]], atol=1e-8)
    assert np.allclose(dense2.x @ dense2.weight.value, [[0.07618707, -0.20943689, -0.64248521]], atol=1e-8)
    assert np.allclose(relu2.y, [[0.07618707, 0, 0]], atol=1e-8)
    assert np.allclose(sigmoid.s, [[0.50521829]], atol=1e-8)
    loss = MSE(half=True)
    assert loss(sigmoid.s, np.array([[1.0]])) == pytest.approx(0.12240446941668841, abs=1e-10)


def test_gradients_match_the_notebook(model):
    x, y = np.array([[1.0, 2.0]]), np.array([[1.0]])
    loss = MSE(half=True)
    loss(model.forward(x), y)
    assert np.allclose(loss.backward(), [[-0.49478171]], atol=1e-8)
    model.backward(loss.backward())
    dense1, _, dense2, _, dense3, _ = model.layers
    assert np.allclose(dense3.weight.grad, [[-0.00942297], [0], [0]], atol=1e-8)
    expected_w2 = np.zeros((4, 3))
    expected_w2[3, 0] = -0.05632041
    assert np.allclose(dense2.weight.grad, expected_w2, atol=1e-8)
    assert np.allclose(dense1.weight.grad, [[0, 0, 0, -0.00155337], [0, 0, 0, -0.00310673]], atol=1e-8)


def test_notebook_mse_gradient_sign_is_fixed():
    """Notebook 000's MSELoss.backward returned (target - pred): descending along it raises the loss."""
    loss = MSE()
    loss(np.array([[2.0]]), np.array([[0.0]]))
    assert loss.backward()[0, 0] > 0
