"""Losses. ``forward(pred, target)`` returns the mean loss over the batch as a
float and keeps what ``backward()`` needs; ``backward()`` returns the gradient
of that mean with respect to ``pred``, in ``pred``'s dtype."""

from typing import ClassVar

import numpy as np

from framework.core.activations import sigmoid
from framework.core.describe import describe
from framework.core.errors import InvalidValueError, ShapeError
from framework.core.validation import check_bool, check_number


class Loss:
    name: ClassVar[str] = ""
    #: "class_index" losses accept integer labels; "same_shape" losses a target shaped like pred.
    target_kind: ClassVar[str] = "same_shape"
    #: "probabilities" when predictions must already be probabilities (a softmax or sigmoid output);
    #: "logits" when the loss applies the softmax or sigmoid itself (one before it would apply it twice).
    input_kind: ClassVar[str] = "any"

    def output_units(self, num_classes: int) -> int:
        """How many model outputs this loss needs for ``num_classes`` classes."""
        return num_classes

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> float:
        return self.forward(pred, target)

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return describe(self)

    def _check_same_shape(self, pred, target):
        if pred.shape != target.shape:
            hint = " (reshape labels to (batch, 1))" if target.ndim == 1 and pred.ndim == 2 else ""
            raise ShapeError(
                f"{type(self).__name__}: target shape {target.shape} must equal prediction shape {pred.shape}{hint}"
            )
        if target.dtype.kind not in "biuf":
            raise ShapeError(f"{type(self).__name__}: target must be numeric, got dtype {target.dtype}")
        return target.astype(pred.dtype, copy=False)


def class_targets(owner: str, pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Split a classification target into (integer labels, one-hot) with one of them None.

    Integer labels have shape (batch,) and values in [0, classes); one-hot or soft
    targets have the prediction's shape.
    """
    if pred.ndim != 2:
        raise ShapeError(f"{owner}: predictions must have shape (batch, classes), got {pred.shape}")
    batch, classes = pred.shape
    if target.ndim == 1:
        if target.dtype.kind not in "iu":
            raise ShapeError(
                f"{owner}: 1-D labels must be integer class indices, got dtype {target.dtype}; "
                "cast with labels.astype(int) or pass one-hot targets of shape (batch, classes)"
            )
        if target.shape[0] != batch:
            raise ShapeError(f"{owner}: {target.shape[0]} labels for {batch} predictions")
        low, high = int(target.min()), int(target.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ShapeError(f"{owner}: label {bad} is outside [0, {classes}) for {classes} output classes")
        return target, None
    if target.shape != pred.shape:
        raise ShapeError(
            f"{owner}: target shape {target.shape} does not fit predictions {pred.shape}; "
            f"give integer labels of shape ({batch},) or one-hot targets of shape {pred.shape}"
        )
    if target.dtype.kind not in "biuf":
        raise ShapeError(f"{owner}: one-hot targets must be numeric, got dtype {target.dtype}")
    return None, target.astype(pred.dtype, copy=False)


class MSE(Loss):
    """Mean squared error over all elements, ``mean((pred - target)^2)``; gradient
    ``2 (pred - target) / size``. ``half=True`` gives the textbook ``½·mean(...)``
    whose gradient is ``(pred - target) / size`` (notebook 000's worked example)."""

    name = "mse"

    def __init__(self, half: bool = False):
        self.half = check_bool("mse", "half", half)

    def forward(self, pred, target):
        target = self._check_same_shape(pred, target)
        self.diff = pred - target
        scale = 0.5 if self.half else 1.0
        return scale * float(np.mean(np.square(self.diff, dtype=np.float64)))

    def backward(self):
        scale = 1.0 if self.half else 2.0
        return self.diff * self.diff.dtype.type(scale / self.diff.size)

    def get_config(self):
        return {"half": self.half}


class CrossEntropy(Loss):
    """Cross-entropy of predicted probabilities (e.g. after a Softmax layer):
    ``-mean over samples of sum(target * log(p))``, with ``p`` clipped to ``[eps, 1]``."""

    name = "cross_entropy"
    target_kind = "class_index"
    input_kind = "probabilities"

    def __init__(self, eps: float = 1e-12):
        self.eps = check_number("CrossEntropy", "eps", eps, low=0, high=1, low_open=True, high_open=True)

    def forward(self, pred, target):
        labels, onehot = class_targets("CrossEntropy", pred, target)
        self.p = np.clip(pred, self.eps, 1.0)
        self.labels, self.onehot = labels, onehot
        n = pred.shape[0]
        if labels is not None:
            return -float(np.log(self.p[np.arange(n), labels], dtype=np.float64).sum() / n)
        return -float((onehot * np.log(self.p)).sum(dtype=np.float64) / n)

    def backward(self):
        n = self.p.shape[0]
        if self.labels is not None:
            grad = np.zeros_like(self.p)
            rows = np.arange(n)
            grad[rows, self.labels] = -1.0 / (n * self.p[rows, self.labels])
            return grad
        return -self.onehot / (n * self.p)

    def get_config(self):
        return {"eps": self.eps}


class SoftmaxCrossEntropy(Loss):
    """Softmax and cross-entropy fused, from logits. The loss uses log-sum-exp
    (stable for any logits); the gradient is ``(softmax(z) - target) / batch``."""

    name = "softmax_cross_entropy"
    target_kind = "class_index"
    input_kind = "logits"

    def forward(self, pred, target):
        labels, onehot = class_targets("SoftmaxCrossEntropy", pred, target)
        shifted = pred - pred.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        log_total = np.log(total)
        self.labels, self.onehot = labels, onehot
        n = pred.shape[0]
        if labels is not None:
            picked = shifted[np.arange(n), labels] - log_total[:, 0]
            loss = -picked.sum(dtype=np.float64) / n
        else:
            loss = -(onehot * (shifted - log_total)).sum(dtype=np.float64) / n
        exp /= total
        self.probs = exp
        return float(loss)

    def backward(self):
        n = self.probs.shape[0]
        grad = self.probs.copy()
        if self.labels is not None:
            grad[np.arange(n), self.labels] -= 1
        else:
            grad -= self.onehot
        grad *= grad.dtype.type(1.0 / n)
        return grad


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy from logits, mean over all elements:
    ``max(z, 0) - z * y + log(1 + exp(-|z|))``; gradient ``(sigmoid(z) - y) / size``."""

    name = "binary_cross_entropy"
    input_kind = "logits"

    def output_units(self, num_classes):
        if num_classes != 2:
            raise InvalidValueError("needs 2 classes")
        return 1

    def forward(self, pred, target):
        target = self._check_same_shape(pred, target)
        self.z, self.y = pred, target
        per_element = np.maximum(pred, 0) - pred * target + np.log1p(np.exp(-np.abs(pred)))
        return float(per_element.mean(dtype=np.float64))

    def backward(self):
        return (sigmoid(self.z) - self.y) * self.z.dtype.type(1.0 / self.z.size)
