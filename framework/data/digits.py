"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, offline).

The file is read from the installed scikit-learn without importing it: the import
takes about a second, longer than training a small model on these digits."""

import importlib.util
from pathlib import Path

import numpy as np

from framework.core.errors import MissingFileError
from framework.data.base import Dataset, RawData, check_fraction
from framework.data.splits import holdout

#: Where scikit-learn keeps the digits, inside its package.
BUNDLED_FILE = ("datasets", "data", "digits.csv.gz")


def bundled_digits_file() -> Path:
    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(root).joinpath(*BUNDLED_FILE)
        if path.is_file():
            return path
    raise MissingFileError(
        "data=digits: scikit-learn's bundled digits file (sklearn/datasets/data/digits.csv.gz) was not found; "
        "install scikit-learn (pip install scikit-learn), or choose another dataset (data=...)"
    )


def load_bundled_digits(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (1797, 8, 8) float64 with values 0..16, and labels (1797,): as ``sklearn.datasets.load_digits``."""
    table = np.loadtxt(path or bundled_digits_file(), delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)


class Digits(Dataset):
    """8x8 digit images with values 0..16 (scaled by 1/16), 10 classes; ``test_fraction`` is held out."""

    name = "digits"

    def __init__(self, *, test_fraction=0.2, **common):
        super().__init__(**common)
        self.test_fraction = check_fraction(self.name, "test_fraction", test_fraction)

    def get_config(self) -> dict:
        return {**super().get_config(), "test_fraction": self.test_fraction}

    def raw(self, rng) -> RawData:
        path = bundled_digits_file()
        images, labels = load_bundled_digits(path)
        x_train, y_train, x_test, y_test = holdout(
            rng, images, labels, self.test_fraction, owner=self.name, option="test_fraction"
        )
        return RawData(
            x_train,
            y_train,
            x_test,
            y_test,
            num_classes=10,
            class_names=[str(digit) for digit in range(10)],
            value_range=(0.0, 16.0),
            train_source=str(path),
            test_source=str(path),
        )
