"""The loaded arrays of a dataset (``DataSplits``) and the seeded random split used to hold samples out."""

from dataclasses import dataclass

import numpy as np

from framework.core.errors import InvalidValueError


@dataclass
class DataSplits:
    """Train, validation and test arrays of one dataset, held once in memory.

    ``x`` arrays are float (float32 unless asked otherwise); classification ``y`` are
    int64 class indices of shape ``(n,)``, regression ``y`` float arrays of shape ``(n, k)``.
    ``train_source``/``test_source`` say where the arrays came from (a file, a URL,
    ``generated <name>``), as the dataset read them.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str
    num_classes: int | None
    input_shape: tuple[int, ...]
    class_names: list[str] | None
    name: str
    train_source: str = ""
    test_source: str = ""

    def __repr__(self) -> str:
        return f"DataSplits({self.describe()})"

    def describe(self) -> str:
        """One line: name, task, classes, per-sample shape, split sizes and dtype."""
        target = f"{self.num_classes} classes" if self.task == "classification" else f"targets {self.y_train.shape[1:]}"
        return (
            f"{self.name}: {self.task}, {target}, input {self.input_shape}, "
            f"train {len(self.x_train)} / val {len(self.x_val)} / test {len(self.x_test)}, {self.x_train.dtype}"
        )


def holdout(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, fraction: float, *, owner: str, option: str):
    """Hold ``round(fraction * n)`` random samples out: returns ``(x_kept, y_kept, x_held, y_held)``.

    Both parts keep the original sample order. The same generator state gives the same split.
    """
    n = len(x)
    n_held = round(fraction * n)
    if n_held >= n:
        raise InvalidValueError(
            f"{owner}: {option}={fraction} would hold out {n_held} of {n} samples and leave none to train on; "
            f"lower {option}",
            option,
        )
    order = rng.permutation(n)
    if n_held == 0:
        return x, y, x[:0], y[:0]
    held, kept = np.sort(order[:n_held]), np.sort(order[n_held:])
    return x[kept], y[kept], x[held], y[held]
