"""Central-difference gradient checks (float64, relative error < 1e-6) for every
registered layer (each on its own ``example_input_shape``: images for image layers),
in training and evaluation mode, and every loss."""

import numpy as np
import pytest

from framework.core import LOSSES, BinaryCrossEntropy, CrossEntropy, SoftmaxCrossEntropy
from framework.plugins import default_plugins
from framework.testing import check_config_round_trip, check_layer_gradients, check_loss_gradients

LAYERS = [cls for _, cls, _ in default_plugins().registry("layer").items()]


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("layer_class", LAYERS, ids=lambda c: c.name)
def test_layer_gradients(layer_class, training):
    check_layer_gradients(layer_class(**layer_class.example_config), training=training)


@pytest.mark.parametrize("layer_class", LAYERS, ids=lambda c: c.name)
def test_layer_config_round_trips(layer_class):
    check_config_round_trip(layer_class(**layer_class.example_config))


@pytest.mark.parametrize("loss_class", LOSSES, ids=lambda c: c.name)
def test_loss_gradients(loss_class):
    check_loss_gradients(loss_class())


@pytest.mark.parametrize("loss_class", [CrossEntropy, SoftmaxCrossEntropy])
def test_classification_losses_accept_one_hot_targets_with_the_same_result(loss_class):
    rng = np.random.default_rng(1)
    pred = rng.uniform(0.05, 0.95, size=(5, 3))
    labels = rng.integers(0, 3, size=5)
    onehot = np.eye(3)[labels]
    by_label, by_onehot = loss_class(), loss_class()
    assert by_label(pred, labels) == pytest.approx(by_onehot(pred, onehot), rel=1e-12)
    assert np.allclose(by_label.backward(), by_onehot.backward())
    check_loss_gradients(loss_class(), pred, onehot)


def test_layer_gradient_check_catches_a_wrong_backward():
    from framework.core import Tanh

    class WrongTanh(Tanh):
        def backward(self, grad):
            return grad * (1 - self.t)  # missing the square

    with pytest.raises(AssertionError, match=r"gradient check failed .* input"):
        check_layer_gradients(WrongTanh())


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    loss = SoftmaxCrossEntropy()
    value = loss(np.array([[1e4, 0.0, -1e4]], dtype=np.float32), np.array([1]))
    assert value == pytest.approx(1e4)
    assert np.isfinite(loss.backward()).all()


def test_binary_cross_entropy_is_stable_for_huge_logits():
    loss = BinaryCrossEntropy()
    assert loss(np.array([[1e4], [-1e4]]), np.array([[0.0], [1.0]])) == pytest.approx(1e4)
    assert np.allclose(loss.backward(), [[0.5], [-0.5]])
