"""Metrics, accumulated over batches: ``reset()``, ``update(pred, target)`` per
batch, ``result()`` at the end, and the running state as arrays
(``state_dict()``/``load_state_dict()``) so a checkpoint taken mid-epoch resumes the
sums exactly. ``pred`` is what the model outputs (its last layer: logits unless the
model ends with a softmax or sigmoid), ``target`` what the loss takes (class indices,
one-hot, values)."""

from typing import ClassVar

import numpy as np

from framework.core.describe import describe
from framework.core.errors import FrameworkError
from framework.core.validation import check_number, check_positive_int


def predicted_classes(pred: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Class indices from outputs: argmax over columns, or ``pred > threshold`` for one column."""
    if pred.ndim == 2 and pred.shape[1] > 1:
        return pred.argmax(axis=1)
    return (pred.reshape(len(pred)) > threshold).astype(np.int64)


def target_classes(target: np.ndarray) -> np.ndarray:
    if target.ndim == 2 and target.shape[1] > 1:
        return target.argmax(axis=1)
    if target.dtype.kind == "f":
        return (target.reshape(len(target)) > 0.5).astype(np.int64)
    return target.reshape(len(target))


class MetricStateError(FrameworkError, AttributeError):
    """A metric's ``state_names`` lists an attribute its ``reset()`` does not set."""


class Metric:
    name: ClassVar[str] = ""
    #: "classification", "regression" or "any": which tasks it makes sense for.
    task: ClassVar[str] = "any"
    #: Whether a larger value is better (used by early stopping and checkpoints in "auto" mode).
    higher_is_better: ClassVar[bool] = False

    #: The attributes ``reset()`` sets and ``update()`` accumulates: all a checkpoint keeps.
    state_names: ClassVar[tuple[str, ...]] = ("total", "count")

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """Start a new accumulation (called before every epoch and every evaluation)."""
        self.total = 0.0
        self.count = 0

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        """Add one batch: ``pred`` the model's outputs, ``target`` the loss's targets."""
        raise NotImplementedError

    def result(self) -> float:
        """The value over every batch since ``reset()``."""
        return self.total / self.count if self.count else float("nan")

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the attributes in ``state_names``, as arrays (a scalar as a 0-d array)."""
        missing = [name for name in self.state_names if not hasattr(self, name)]
        if missing:
            raise MetricStateError(
                f"{type(self).__name__} ({self.name!r}): reset() sets no attribute {missing[0]!r}, which its "
                f"state_names {tuple(self.state_names)} lists; name in state_names the attributes reset() sets "
                "(e.g. state_names = ('matrix',)), or override state_dict() and load_state_dict()"
            )
        return {name: np.array(getattr(self, name), copy=True) for name in self.state_names}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``state_dict()`` returned; a 0-d array becomes a Python number again."""
        for name in self.state_names:
            value = np.array(state[name], copy=True)
            setattr(self, name, value.item() if value.ndim == 0 else value)

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return describe(self)


class Accuracy(Metric):
    """Fraction of samples whose predicted class is the target class. One-column
    outputs are read as binary logits: class 1 where ``pred > threshold``."""

    name = "accuracy"
    task = "classification"
    higher_is_better = True

    def __init__(self, threshold: float = 0.0):
        self.threshold = check_number("Accuracy", "threshold", threshold)
        super().__init__()

    def update(self, pred, target):
        self.total += int(np.count_nonzero(predicted_classes(pred, self.threshold) == target_classes(target)))
        self.count += len(pred)

    def get_config(self):
        return {"threshold": self.threshold}


class TopKAccuracy(Metric):
    """Fraction of samples whose target class is among the ``k`` highest outputs."""

    name = "top_k_accuracy"
    task = "classification"
    higher_is_better = True

    def __init__(self, k: int = 5):
        self.k = check_positive_int("TopKAccuracy", "k", k)
        super().__init__()

    def update(self, pred, target):
        k = min(self.k, pred.shape[1])
        labels = target_classes(target)
        top = np.argpartition(pred, -k, axis=1)[:, -k:]
        self.total += int(np.count_nonzero((top == labels[:, None]).any(axis=1)))
        self.count += len(pred)

    def get_config(self):
        return {"k": self.k}


class MeanSquaredError(Metric):
    """Mean of ``(pred - target)^2`` over all elements."""

    name = "mse"
    task = "regression"

    def update(self, pred, target):
        diff = pred - target.reshape(pred.shape)
        self.total += float(np.dot(diff.ravel(), diff.ravel()))
        self.count += diff.size


class MeanAbsoluteError(Metric):
    """Mean of ``|pred - target|`` over all elements."""

    name = "mae"
    task = "regression"

    def update(self, pred, target):
        diff = pred - target.reshape(pred.shape)
        self.total += float(np.abs(diff).sum(dtype=np.float64))
        self.count += diff.size


METRICS = (Accuracy, TopKAccuracy, MeanSquaredError, MeanAbsoluteError)


def confusion_matrix(pred: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
    """``matrix[true, predicted]`` counts, shape ``(num_classes, num_classes)``."""
    flat = target_classes(target) * num_classes + predicted_classes(pred)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
