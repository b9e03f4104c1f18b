"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, offline)."""

from framework.data.base import Dataset, RawData, check_fraction
from framework.data.splits import holdout


class Digits(Dataset):
    """8x8 digit images with values 0..16 (scaled by 1/16), 10 classes; ``test_fraction`` is held out."""

    name = "digits"

    def __init__(self, *, test_fraction=0.2, **common):
        super().__init__(**common)
        self.test_fraction = check_fraction(self.name, "test_fraction", test_fraction)

    def get_config(self) -> dict:
        return {**super().get_config(), "test_fraction": self.test_fraction}

    def raw(self, rng) -> RawData:
        from sklearn.datasets import load_digits  # imported here: it takes a second, and only this dataset needs it

        bunch = load_digits()
        x_train, y_train, x_test, y_test = holdout(
            rng, bunch.images, bunch.target, self.test_fraction, owner=self.name, option="test_fraction"
        )
        return RawData(
            x_train,
            y_train,
            x_test,
            y_test,
            num_classes=10,
            class_names=[str(digit) for digit in range(10)],
            value_range=(0.0, 16.0),
            train_source="sklearn.datasets.load_digits",
            test_source="sklearn.datasets.load_digits",
        )
