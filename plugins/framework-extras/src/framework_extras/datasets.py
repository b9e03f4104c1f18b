"""The moons dataset: two interleaved half circles, generated from the run's generator."""

import numpy as np
from framework import check_number, check_positive_int
from framework.data import Dataset, RawData, holdout


class Moons(Dataset):
    """Two interleaved half circles in the plane, one class each (like scikit-learn's
    ``make_moons``): class 0 on ``(cos t, sin t)``, class 1 on ``(1 - cos t, 0.5 - sin t)``,
    ``t`` uniform in ``[0, pi]``, plus Gaussian noise of std ``noise``.

    ``n_samples`` points are drawn (classes alternate, so they are balanced) and
    ``test_fraction`` of them are held out as the test set. The other options are
    the framework's common dataset options (``val_fraction``, ``standardize``, ...).
    """

    name = "moons"

    def __init__(self, *, n_samples: int = 500, noise: float = 0.1, test_fraction: float = 0.2, **common):
        super().__init__(**common)
        self.n_samples = check_positive_int("moons", "n_samples", n_samples)
        self.noise = check_number("moons", "noise", noise, low=0)
        self.test_fraction = check_number("moons", "test_fraction", test_fraction, low=0, high=1, high_open=True)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "n_samples": self.n_samples,
            "noise": self.noise,
            "test_fraction": self.test_fraction,
        }

    def raw(self, rng: np.random.Generator) -> RawData:
        labels = np.arange(self.n_samples) % 2
        t = rng.uniform(0.0, np.pi, size=self.n_samples)
        x = np.where(
            labels[:, None] == 0,
            np.stack([np.cos(t), np.sin(t)], axis=1),
            np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1),
        )
        x += rng.normal(scale=self.noise, size=x.shape)
        x_train, y_train, x_test, y_test = holdout(
            rng, x, labels, self.test_fraction, owner="moons", option="test_fraction"
        )
        source = "generated moons"
        return RawData(
            x_train,
            y_train,
            x_test,
            y_test,
            task="classification",
            num_classes=2,
            class_names=["upper", "lower"],
            train_source=source,
            test_source=source,
        )
