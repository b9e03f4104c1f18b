"""Adagrad: an optimizer whose state starts at a value other than zero."""

import numpy as np

from framework import Optimizer, check_number


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), per coordinate::

        s = s + g^2
        w = w - lr * g / (sqrt(s) + eps)

    ``s`` starts at ``initial_accumulator_value`` (0.1, as in TensorFlow), which keeps
    the first steps from being as large as ``lr`` in every coordinate.
    """

    name = "adagrad"
    slots = ("sum",)

    def __init__(self, lr: float = 0.01, initial_accumulator_value: float = 0.1, eps: float = 1e-10):
        super().__init__(lr)
        self.initial_accumulator_value = check_number(
            "adagrad", "initial_accumulator_value", initial_accumulator_value, low=0
        )
        self.eps = check_number("adagrad", "eps", eps, low=0)

    def initial_slot_value(self, slot):
        return self.initial_accumulator_value

    def update(self, w, grad, state):
        total = state["sum"]
        total += grad * grad
        step = self.scratch(w)
        np.sqrt(total, out=step)
        step += w.dtype.type(self.eps)
        np.divide(grad, step, out=step)
        step *= w.dtype.type(self.lr)
        w -= step

    def get_config(self):
        return {"lr": self.lr, "initial_accumulator_value": self.initial_accumulator_value, "eps": self.eps}
