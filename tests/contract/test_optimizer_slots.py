"""Optimizer state slots can start at a value other than zero (Adagrad's
``initial_accumulator_value``), and resuming restores them exactly."""

import numpy as np

import framework as fw
from framework.core.parameter import Parameter
from framework.testing import check_optimizer


class Accumulating(fw.Optimizer):
    """Adagrad: ``s = s + g^2; w = w - lr * g / sqrt(s)``, with ``s`` starting at ``initial``."""

    name = "accumulating"
    slots = ("sum",)

    def __init__(self, lr: float = 0.1, initial: float = 0.5):
        super().__init__(lr)
        self.initial = initial

    def initial_slot_value(self, slot):
        return self.initial

    def update(self, w, grad, state):
        state["sum"] += grad * grad
        w -= self.lr * grad / np.sqrt(state["sum"])


def parameter():
    return Parameter("w", (2,), None, np.array([1.0, -1.0], np.float32), np.array([0.5, 1.0], np.float32))


def test_a_slot_starts_at_its_initial_value():
    optimizer = Accumulating(initial=0.5)
    optimizer.step([parameter()])
    # s = 0.5 + g^2 = [0.75, 1.5]
    np.testing.assert_array_equal(optimizer.state["w"]["sum"], np.array([0.75, 1.5], np.float32))
    assert optimizer.state["w"]["sum"].dtype == np.float32


def test_an_optimizer_with_non_zero_slots_resumes_exactly():
    check_optimizer(Accumulating)
    first = Accumulating()
    first.step([parameter()])
    second = Accumulating()
    second.load_state_dict(first.state_dict())
    np.testing.assert_array_equal(second.state["w"]["sum"], first.state["w"]["sum"])
