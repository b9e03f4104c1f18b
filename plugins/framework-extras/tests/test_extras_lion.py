import framework as fw
import numpy as np
import pytest
from framework.testing import check_config_round_trip, check_optimizer

from framework_extras import Lion


def parameter(value):
    value = np.array(value, dtype=np.float64)
    return fw.Parameter("w", value.shape, None, value, np.zeros_like(value))


def test_conformance():
    check_optimizer(Lion)


def test_conformance_with_weight_decay_and_other_betas():
    check_optimizer(lambda **kw: Lion(beta1=0.5, beta2=0.9, weight_decay=0.01, **kw))


def test_golden_values():
    # By hand: c = b1*m + (1-b1)*g; w -= lr*(sign(c) + wd*w); m = b2*m + (1-b2)*g.
    optimizer = Lion(lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.5)
    p = parameter([1.0, -2.0, 0.5])
    p.grad[...] = [0.3, -0.1, 0.0]
    optimizer.step([p])
    # m = 0: sign(c) = sign(g) = [1, -1, 0]
    np.testing.assert_allclose(p.value, [1.0 - 0.1 * (1 + 0.5), -2.0 - 0.1 * (-1 - 1.0), 0.5 - 0.1 * (0 + 0.25)])
    np.testing.assert_allclose(optimizer.state["w"]["m"], [0.003, -0.001, 0.0])
    w1 = p.value.copy()
    p.grad[...] = [-0.001, 0.05, -0.2]
    optimizer.step([p])
    c = 0.9 * np.array([0.003, -0.001, 0.0]) + 0.1 * np.array([-0.001, 0.05, -0.2])  # [0.0026, 0.0041, -0.02]
    np.testing.assert_allclose(p.value, w1 - 0.1 * (np.sign(c) + 0.5 * w1))
    np.testing.assert_allclose(
        optimizer.state["w"]["m"], 0.99 * np.array([0.003, -0.001, 0.0]) + 0.01 * np.array([-0.001, 0.05, -0.2])
    )


def test_every_coordinate_moves_by_lr():
    optimizer = Lion(lr=0.01)
    p = parameter(np.zeros(4))
    p.grad[...] = [1e-6, -3.0, 200.0, -1e-9]
    optimizer.step([p])
    np.testing.assert_allclose(np.abs(p.value), 0.01)


def test_keeps_float32():
    optimizer = Lion(lr=0.01, weight_decay=0.1)
    p = fw.Parameter("w", (3,), None, np.ones(3, np.float32), np.full(3, 0.5, np.float32))
    optimizer.step([p])
    assert p.value.dtype == np.float32
    assert optimizer.state["w"]["m"].dtype == np.float32


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("lr", 0.0),
        ("lr", -1e-3),
        ("beta1", 1.0),
        ("beta1", -0.1),
        ("beta2", 1.5),
        ("weight_decay", -0.01),
        ("beta2", "x"),
    ],
)
def test_refuses_bad_hyperparameters(option, value):
    with pytest.raises(fw.InvalidValueError, match=option):
        Lion(**{option: value})


def test_config_round_trip():
    check_config_round_trip(Lion(lr=3e-4, beta1=0.95, beta2=0.98, weight_decay=0.1))
    assert repr(Lion(lr=3e-4)) == "Lion(lr=0.0003)"
