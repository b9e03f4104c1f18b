"""Optimizers: two steps each against values worked out by hand from the update
rule (w0 = 1, first gradient 0.5, second -0.25), plus the conformance kit. The
rules with a compiled kernel are checked on both paths."""

import numpy as np
import pytest

from framework.core import SGD, Adam, AdamW, InvalidValueError, Parameter, RMSprop, clip_grad_norm, kernels
from framework.testing import check_optimizer


@pytest.fixture(params=["compiled", "numpy"])
def path(request, monkeypatch):
    """Run the test once with the compiled kernels (when built) and once with NumPy alone."""
    if request.param == "compiled" and not kernels.available():
        pytest.skip("the compiled kernels are not built here")
    if request.param == "numpy":
        monkeypatch.setattr(kernels, "_kernels", None)
    return request.param


# Each case: optimizer, w after step 1, w after step 2, and the arithmetic.
GOLDEN = [
    # w1 = 1 - 0.1*0.5 ; w2 = 0.95 - 0.1*(-0.25)
    (lambda: SGD(lr=0.1), 0.95, 0.975),
    # b1 = 0.5, w1 = 0.95 ; b2 = 0.9*0.5 - 0.25 = 0.2, w2 = 0.95 - 0.02
    (lambda: SGD(lr=0.1, momentum=0.9), 0.95, 0.93),
    # b1 = 0.5, step 0.5 + 0.9*0.5 = 0.95 -> 0.905 ; b2 = 0.2, step -0.25 + 0.18 = -0.07 -> 0.912
    (lambda: SGD(lr=0.1, momentum=0.9, nesterov=True), 0.905, 0.912),
    # g1 = 0.5 + 0.1*1 = 0.6 -> 0.94 ; g2 = -0.25 + 0.1*0.94 = -0.156 -> 0.9556
    (lambda: SGD(lr=0.1, weight_decay=0.1), 0.94, 0.9556),
    # m1 = 0.05, v1 = 0.00025, m^ = 0.5, v^ = 0.25 -> 1 - 0.1*0.5/(0.5 + 1e-8)
    # m2 = 0.02, v2 = 0.00031225, m^ = 0.02/0.19, v^ = 0.00031225/0.001999
    (lambda: Adam(lr=0.1), 0.900000002, 0.8733662987078463),
    # as Adam, but w is first multiplied by 1 - 0.1*0.1 = 0.99 at each step
    (lambda: AdamW(lr=0.1, weight_decay=0.1), 0.890000002, 0.8544662986878463),
    # v1 = 0.1*0.25 = 0.025 -> 1 - 0.01*0.5/sqrt(0.025) ; v2 = 0.0225 + 0.00625 = 0.02875
    (lambda: RMSprop(lr=0.01, rho=0.9), 0.968377225398316, 0.9831214201442406),
]


@pytest.mark.parametrize(("make", "after_one", "after_two"), GOLDEN)
def test_two_steps_match_the_update_rule_by_hand(make, after_one, after_two, path):
    optimizer = make()
    p = Parameter("w", (1,), None, np.array([1.0]), np.array([0.5]))
    optimizer.step([p])
    assert p.value[0] == pytest.approx(after_one, abs=1e-12)
    p.grad[0] = -0.25
    optimizer.step([p])
    assert p.value[0] == pytest.approx(after_two, abs=1e-12)


@pytest.mark.parametrize(
    "factory",
    [
        SGD,
        lambda **kw: SGD(**{"momentum": 0.9, "nesterov": True, **kw}),
        Adam,
        AdamW,
        RMSprop,
        lambda **kw: RMSprop(**{"momentum": 0.5, "centered": True, **kw}),
    ],
    ids=["sgd", "sgd-nesterov", "adam", "adamw", "rmsprop", "rmsprop-centered-momentum"],
)
def test_optimizer_conformance(factory):
    check_optimizer(factory)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SGD(lr=-0.1), r"SGD: lr must be in \(0, inf\], got -0.1"),
        (lambda: Adam(lr=float("nan")), "Adam: lr must be a finite number, got nan"),
        (lambda: Adam(beta1=1.0), r"Adam: beta1 must be in \[0, 1\), got 1.0"),
        (lambda: AdamW(beta2=-0.5), r"AdamW: beta2 must be in \[0, 1\), got -0.5"),
        (lambda: Adam(eps=0), "Adam: eps must be in"),
        (lambda: SGD(nesterov=True), "nesterov=True needs momentum > 0"),
        (lambda: RMSprop(rho=1.5), "RMSprop: rho must be in"),
        (lambda: SGD(weight_decay=-1), "SGD: weight_decay must be in"),
    ],
)
def test_bad_hyperparameters_fail_at_construction(make, message):
    with pytest.raises(InvalidValueError, match=message):
        make()


def test_optimizer_state_is_keyed_by_parameter_not_held_by_layers():
    optimizer = Adam()
    a = Parameter("a", (2,), None, np.ones(2), np.ones(2))
    b = Parameter("b", (3,), None, np.ones(3), np.ones(3))
    optimizer.step([a, b])
    assert set(optimizer.state) == {"a", "b"}
    assert optimizer.state["b"]["m"].shape == (3,)


def test_clip_grad_norm_scales_to_the_global_norm_and_reports_it():
    a = Parameter("a", (2,), None, np.zeros(2), np.array([3.0, 0.0]))
    b = Parameter("b", (1,), None, np.zeros(1), np.array([4.0]))
    assert clip_grad_norm([a, b], max_norm=1.0) == pytest.approx(5.0)
    assert np.allclose(np.concatenate([a.grad, b.grad]), [0.6, 0.0, 0.8])
    assert clip_grad_norm([a, b], max_norm=10.0) == pytest.approx(1.0)
    assert np.allclose(b.grad, [0.8])


@pytest.mark.parametrize("make", [Adam, AdamW, RMSprop])
def test_moments_of_dead_units_are_flushed_out_of_the_denormal_range(make, path):
    """A parameter whose gradient is exactly zero must not keep denormal moments (slow arithmetic)."""
    optimizer = make(lr=0.01)
    p = Parameter("w", (2,), None, np.ones(2, np.float32), np.array([1.0, 1.0], np.float32))
    optimizer.step([p])
    p.grad[1] = 0.0  # unit 1 dies
    for _ in range(10000):
        optimizer.step([p])
    tiny = np.finfo(np.float32).tiny
    for array in optimizer.state["w"].values():
        assert not (0 < abs(array[1]) < tiny), f"denormal moment {array[1]!r} left in {sorted(optimizer.state['w'])}"
