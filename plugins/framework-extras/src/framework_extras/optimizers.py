"""The Lion optimizer: the framework's ``Optimizer`` base class owns the loop over
parameters and the state; this module writes only the update rule."""

import numpy as np
from framework import Optimizer, check_number


class Lion(Optimizer):
    """Lion, "EvoLved Sign Momentum" (Chen et al., 2023)::

    c = beta1 * m + (1 - beta1) * g
    w = w - lr * (sign(c) + weight_decay * w)
    m = beta2 * m + (1 - beta2) * g

    Every coordinate moves by exactly ``lr`` (plus decay), so ``lr`` is usually
    3-10x smaller than Adam's and ``weight_decay`` 3-10x larger. The weight
    decay is decoupled, as in AdamW.
    """

    name = "lion"
    slots = ("m",)

    def __init__(self, lr: float = 1e-4, beta1: float = 0.9, beta2: float = 0.99, weight_decay: float = 0.0):
        super().__init__(lr)
        self.beta1 = check_number("lion", "beta1", beta1, low=0, high=1, high_open=True)
        self.beta2 = check_number("lion", "beta2", beta2, low=0, high=1, high_open=True)
        self.weight_decay = check_number("lion", "weight_decay", weight_decay, low=0)

    def update(self, w, grad, state):
        m = state["m"]
        direction = np.sign(self.beta1 * m + (1 - self.beta1) * grad)
        if self.weight_decay:
            direction += self.weight_decay * w
        w -= self.lr * direction
        m *= self.beta2
        m += (1 - self.beta2) * grad

    def get_config(self):
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "weight_decay": self.weight_decay}
