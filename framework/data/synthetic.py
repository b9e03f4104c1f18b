"""Toy datasets generated from the generator: spirals, blobs, XOR and a regression curve.

Each draws ``n_samples`` samples and holds ``test_fraction`` of them out as the test set.
"""

from typing import ClassVar

import numpy as np

from framework.core.validation import check_number, check_positive_int
from framework.data.base import Dataset, RawData, check_bool, check_fraction
from framework.data.splits import holdout


class SyntheticDataset(Dataset):
    """Shared options and the train/test split; subclasses implement ``generate(rng) -> (x, y)``."""

    task: ClassVar[str] = "classification"
    num_classes: int | None = 2

    def __init__(self, *, n_samples, noise, test_fraction=0.2, **common):
        super().__init__(**common)
        self.n_samples = check_positive_int(self.name, "n_samples", n_samples)
        self.noise = check_number(self.name, "noise", noise, low=0)
        self.test_fraction = check_fraction(self.name, "test_fraction", test_fraction)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "n_samples": self.n_samples,
            "noise": self.noise,
            "test_fraction": self.test_fraction,
        }

    def generate(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def raw(self, rng) -> RawData:
        x, y = self.generate(rng)
        x_train, y_train, x_test, y_test = holdout(
            rng, x, y, self.test_fraction, owner=self.name, option="test_fraction"
        )
        source = f"generated {self.name}"
        return RawData(
            x_train,
            y_train,
            x_test,
            y_test,
            task=self.task,
            num_classes=self.num_classes,
            train_source=source,
            test_source=source,
        )


class Spirals(SyntheticDataset):
    """Two interleaved spirals in the plane (radius up to 1), one class each."""

    name = "spirals"

    def __init__(self, *, n_samples=500, noise=0.05, turns=1.5, **options):
        super().__init__(n_samples=n_samples, noise=noise, **options)
        self.turns = check_number(self.name, "turns", turns, low=0, low_open=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "turns": self.turns}

    def generate(self, rng):
        labels = np.arange(self.n_samples) % 2
        radius = np.sqrt(rng.uniform(size=self.n_samples))  # sqrt: even density along the arm
        angle = radius * self.turns * 2 * np.pi + np.pi * labels
        x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        x += rng.normal(scale=self.noise, size=x.shape)
        return x, labels


class Blobs(SyntheticDataset):
    """``centers`` Gaussian clusters of std ``noise`` around centers drawn in [-5, 5]^n_features."""

    name = "blobs"

    def __init__(self, *, n_samples=500, noise=1.0, centers=3, n_features=2, **options):
        super().__init__(n_samples=n_samples, noise=noise, **options)
        self.centers = check_positive_int(self.name, "centers", centers)
        self.n_features = check_positive_int(self.name, "n_features", n_features)

    @property
    def num_classes(self) -> int:
        return self.centers

    def get_config(self) -> dict:
        return {**super().get_config(), "centers": self.centers, "n_features": self.n_features}

    def generate(self, rng):
        centers = rng.uniform(-5.0, 5.0, size=(self.centers, self.n_features))
        labels = np.arange(self.n_samples) % self.centers
        x = centers[labels] + rng.normal(scale=self.noise, size=(self.n_samples, self.n_features))
        return x, labels


class XOR(SyntheticDataset):
    """Points around the corners of [0, 1]^2, labelled ``x1 xor x2``.

    ``truth_table=True`` gives exactly the four corners as both train and test set (the classic
    demo; ``n_samples``, ``noise`` and ``test_fraction`` are then unused).
    """

    name = "xor"
    CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    CORNER_LABELS = np.array([0, 1, 1, 0])

    def __init__(self, *, n_samples=400, noise=0.1, truth_table=False, **options):
        super().__init__(n_samples=n_samples, noise=noise, **options)
        self.truth_table = check_bool(self.name, "truth_table", truth_table)

    def get_config(self) -> dict:
        return {**super().get_config(), "truth_table": self.truth_table}

    def generate(self, rng):
        corner = np.arange(self.n_samples) % 4
        x = self.CORNERS[corner] + rng.normal(scale=self.noise, size=(self.n_samples, 2))
        return x, self.CORNER_LABELS[corner]

    def raw(self, rng) -> RawData:
        if not self.truth_table:
            return super().raw(rng)
        source = "xor truth table"
        x, y = self.CORNERS, self.CORNER_LABELS
        return RawData(x.copy(), y.copy(), x.copy(), y.copy(), num_classes=2, train_source=source, test_source=source)


class RegressionCurve(SyntheticDataset):
    """``y = 0.5 + 0.4 sin(pi x) + noise`` for ``x`` uniform in [-1, 1]: shapes (n, 1) and (n, 1).

    Noise-free targets lie in [0.1, 0.9], reachable by sigmoid, tanh and linear outputs alike.
    """

    name = "regression_curve"
    task = "regression"
    num_classes = None

    def __init__(self, *, n_samples=500, noise=0.05, **options):
        super().__init__(n_samples=n_samples, noise=noise, **options)

    def generate(self, rng):
        x = rng.uniform(-1.0, 1.0, size=(self.n_samples, 1))
        y = 0.5 + 0.4 * np.sin(np.pi * x) + rng.normal(scale=self.noise, size=x.shape)
        return x, y
