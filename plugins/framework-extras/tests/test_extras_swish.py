import framework as fw
import numpy as np
import pytest
from framework.testing import check_config_round_trip, check_layer, check_layer_gradients

from framework_extras import Swish


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 1.5, 4.0])
def test_gradient_matches_central_differences(beta):
    errors = check_layer_gradients(Swish(beta=beta), input_shape=(5,), batch=4)
    assert errors["input"] < 1e-7


def test_gradient_for_large_inputs_stays_finite_and_exact():
    x = np.array([[-40.0, -8.0, -1e-3, 0.0, 1e-3, 8.0, 40.0]])
    check_layer_gradients(Swish(beta=1.0), input_shape=(7,), x=x)


def test_values_match_the_definition():
    x = np.linspace(-6, 6, 25).reshape(5, 5)
    model = fw.Sequential([Swish(beta=2.0)], input_shape=(5,), rng=np.random.default_rng(0), dtype="float64")
    np.testing.assert_allclose(model.forward(x), x / (1 + np.exp(-2.0 * x)), rtol=1e-12)


def test_beta_zero_halves_the_input():
    x = np.arange(-3.0, 3.0).reshape(2, 3)
    model = fw.Sequential([Swish(beta=0.0)], input_shape=(3,), rng=np.random.default_rng(0), dtype="float64")
    np.testing.assert_array_equal(model.forward(x), x / 2)


def test_keeps_float32():
    model = fw.Sequential([Swish(beta=1.5)], input_shape=(3,), rng=np.random.default_rng(0))
    x = np.ones((2, 3), dtype=np.float32)
    assert model.forward(x).dtype == np.float32
    assert model.backward(np.ones_like(x)).dtype == np.float32


@pytest.mark.parametrize("beta", [-1.0, float("nan"), "1", True])
def test_refuses_bad_beta(beta):
    with pytest.raises(fw.InvalidValueError, match="swish: beta"):
        Swish(beta=beta)


def test_config_round_trip():
    check_config_round_trip(Swish(beta=0.7))
    check_config_round_trip(Swish(**Swish.example_config))
    assert repr(Swish(beta=2.0)) == "Swish(beta=2.0)"


def test_conformance():
    check_layer(Swish(beta=1.5), input_shape=(5,))
