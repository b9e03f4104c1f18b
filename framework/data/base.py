"""The ``Dataset`` base class. It owns what every dataset shares: option checks, the
validation split, preprocessing and label checks. A subclass only reads its raw arrays,
in ``raw(rng)``."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from framework.core.describe import describe
from framework.core.errors import FileFormatError, InvalidValueError
from framework.core.validation import (
    check_bool,
    check_float_dtype,
    check_number,
    check_positive_int,
    first_non_finite,
)
from framework.data import preprocess
from framework.data.splits import DataSplits, holdout

TASKS = ("classification", "regression")
#: More classes than this, inferred from labels, must be mostly present (see ``_check_dense_labels``).
SPARSE_LABELS_FLOOR = 1000


@dataclass
class RawData:
    """Arrays as a subclass read them, before the validation split and preprocessing.

    ``num_classes=None`` for classification means "largest label + 1". ``value_range`` is the
    known range of the raw ``x`` values (e.g. ``(0, 255)`` for pixels), used by ``scale``.
    ``train_source``/``test_source`` name where the arrays came from, for error messages.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str = "classification"
    num_classes: int | None = None
    class_names: list[str] | None = None
    value_range: tuple[float, float] | None = None
    train_source: str = ""
    test_source: str = ""
    #: Where each sample is in its source when the arrays were reordered (a file's test split
    #: drawn out of it), counted as ``row_word`` says; None: a sample's index is its place.
    train_rows: np.ndarray | None = None
    test_rows: np.ndarray | None = None
    row_word: str = "index"

    def row(self, part: str, index: int) -> str:
        """Where sample ``index`` of the ``part`` arrays ("train" or "test") is in its source."""
        rows = self.train_rows if part == "train" else self.test_rows
        return f"{self.row_word} {int(rows[index]) if rows is not None else index}"


def check_fraction(owner: str, name: str, value) -> float:
    return check_number(owner, name, value, low=0, high=1, high_open=True)


def check_task(owner: str, value) -> str:
    if value not in TASKS:
        raise InvalidValueError(f"{owner}: task must be one of {', '.join(TASKS)}, got {value!r}", "task")
    return value


class Dataset:
    """A source of ``DataSplits``. ``load(rng)`` reads the raw arrays, splits ``val_fraction``
    of the training samples off for validation (a permutation drawn from ``rng``), then casts
    to ``dtype``, scales to [0, 1] when the raw range is known, flattens (or, with
    ``flatten=False``, gives single-channel images ``(n, height, width)`` their channel
    axis: ``(n, 1, height, width)``, channels-first), and standardizes
    with statistics of the training split only.
    """

    name: ClassVar[str] = ""

    def __init__(self, *, val_fraction=0.1, scale=True, standardize=False, flatten=True, dtype="float32"):
        owner = self.name or type(self).__name__
        self.val_fraction = check_fraction(owner, "val_fraction", val_fraction)
        self.scale = check_bool(owner, "scale", scale)
        self.standardize = check_bool(owner, "standardize", standardize)
        self.flatten = check_bool(owner, "flatten", flatten)
        self.dtype = check_float_dtype(owner, dtype).name

    def raw(self, rng: np.random.Generator) -> RawData:
        """Read (or generate) the train and test arrays. Subclasses implement this."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {
            "val_fraction": self.val_fraction,
            "scale": self.scale,
            "standardize": self.standardize,
            "flatten": self.flatten,
            "dtype": self.dtype,
        }

    def __repr__(self) -> str:
        return describe(self)

    def load(self, rng: np.random.Generator) -> DataSplits:
        """Read, split and preprocess. The same generator state gives the same arrays."""
        if not isinstance(rng, np.random.Generator):
            raise InvalidValueError(
                f"{self.name}: load(rng) needs a numpy.random.Generator, got {type(rng).__name__}; "
                "pass np.random.default_rng(seed)"
            )
        raw = self.raw(rng)
        self._check_inputs(raw)
        y_train, y_test, num_classes = self._checked_targets(raw)
        x_train, y_train, x_val, y_val = holdout(
            rng, raw.x_train, y_train, self.val_fraction, owner=self.name, option="val_fraction"
        )
        x_train, x_val, x_test = self._preprocessed(raw, x_train, x_val, raw.x_test)
        return DataSplits(
            x_train=x_train,
            y_train=y_train,
            x_val=x_val,
            y_val=y_val,
            x_test=x_test,
            y_test=y_test,
            task=raw.task,
            num_classes=num_classes,
            input_shape=tuple(x_train.shape[1:]),
            class_names=list(raw.class_names) if raw.class_names is not None else None,
            name=self.name,
            train_source=raw.train_source,
            test_source=raw.test_source,
        )

    def _check_inputs(self, raw: RawData) -> None:
        """Numbers, all finite; a bad one is named by its place in the source (a file's row)."""
        for part, array, source in (("train", raw.x_train, raw.train_source), ("test", raw.x_test, raw.test_source)):
            if array.dtype.kind not in "biuf":
                raise FileFormatError(
                    f"{self.name} ({source}): x must be numeric, got dtype {array.dtype}; "
                    "store the inputs as numbers (encode text or categories as numbers first)"
                )
            bad = first_non_finite(array)
            if bad is not None:
                raise InvalidValueError(
                    f"{self.name} ({source}): x contains {array[bad]} at {raw.row(part, bad[0])}{_position(bad[1:])}; "
                    "inputs must be finite (clean or impute the data first)"
                )

    def _preprocessed(self, raw: RawData, *arrays: np.ndarray) -> list[np.ndarray]:
        train, test = arrays[0], arrays[2]
        if train.shape[1:] != test.shape[1:]:
            raise FileFormatError(
                f"{self.name} ({raw.test_source}): test samples have shape {test.shape[1:]} but training samples "
                f"{train.shape[1:]}; train and test data must have the same features"
            )
        arrays = [array.astype(self.dtype) for array in arrays]  # one copy each, the arrays kept from here on
        if self.scale and raw.value_range is not None:
            preprocess.scale_to_unit(arrays, *raw.value_range)
        if self.flatten:
            arrays = [preprocess.flatten(array) for array in arrays]
        else:
            arrays = [preprocess.with_channel_axis(array) for array in arrays]
        if self.standardize:
            preprocess.standardize(arrays[0], arrays[1:])
        return arrays

    def _checked_targets(self, raw: RawData) -> tuple[np.ndarray, np.ndarray, int | None]:
        for x, y, source in ((raw.x_train, raw.y_train, raw.train_source), (raw.x_test, raw.y_test, raw.test_source)):
            if len(x) != len(y):
                raise FileFormatError(
                    f"{self.name} ({source}): {len(x)} samples but {len(y)} labels; "
                    "every sample needs exactly one label"
                )
        if raw.task == "regression":
            y_train = self._regression_targets(raw.y_train, raw.train_source, lambda i: raw.row("train", i))
            return y_train, self._regression_targets(raw.y_test, raw.test_source, lambda i: raw.row("test", i)), None
        y_train = self._class_indices(raw.y_train, raw.train_source, lambda i: raw.row("train", i))
        y_test = self._class_indices(raw.y_test, raw.test_source, lambda i: raw.row("test", i))
        num_classes = raw.num_classes
        if num_classes is None:
            num_classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
            self._check_dense_labels(raw, y_train, y_test, num_classes)
        num_classes = check_positive_int(self.name, "num_classes", num_classes)
        for part, y, source in (("train", y_train, raw.train_source), ("test", y_test, raw.test_source)):
            self._check_label_range(y, num_classes, source, lambda i, part=part: raw.row(part, i))
        return y_train, y_test, num_classes

    def _class_indices(self, y: np.ndarray, source: str, at) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise FileFormatError(
                f"{self.name} ({source}): class labels must have shape (n,), got {y.shape}; "
                "give integer class indices, not one-hot rows"
            )
        if y.dtype.kind not in "biuf":
            raise FileFormatError(
                f"{self.name} ({source}): class labels must be numbers, got dtype {y.dtype}; "
                "map each class to an integer index 0, 1, 2, ..."
            )
        if y.dtype.kind == "f":
            fractional = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
            if fractional.size:
                index = int(fractional[0])
                raise FileFormatError(
                    f"{self.name} ({source}): label {y[index].item()!r} at {at(index)} is not a whole number; "
                    "class labels must be integer class indices (use task='regression' for real-valued targets)"
                )
        return y.astype(np.int64)

    def _check_dense_labels(self, raw: RawData, y_train: np.ndarray, y_test: np.ndarray, num_classes: int) -> None:
        """Classes are counted up to the largest label: a few labels with a huge one among them would
        make a model with millions of outputs, nearly all never seen."""
        if num_classes <= SPARSE_LABELS_FLOOR:
            return
        distinct = len(np.unique(np.concatenate([y_train, y_test])))
        if num_classes <= 10 * distinct:
            return
        part, y = ("train", y_train) if y_train.max(initial=0) + 1 == num_classes else ("test", y_test)
        index = int(np.argmax(y))
        source = raw.train_source if part == "train" else raw.test_source
        raise FileFormatError(
            f"{self.name} ({source}): label {num_classes - 1} at {raw.row(part, index)} makes {num_classes:,} classes "
            f"(labels count from 0 to the largest), but only {distinct} different labels occur; number the classes "
            f"0 to {distinct - 1}, or set the num_classes option if the others exist"
        )

    def _check_label_range(self, y: np.ndarray, num_classes: int, source: str, at) -> None:
        bad = np.flatnonzero((y < 0) | (y >= num_classes))
        if bad.size:
            index = int(bad[0])
            label = int(y[index])
            problem = "is negative" if label < 0 else f"is not below the number of classes ({num_classes})"
            raise FileFormatError(
                f"{self.name} ({source}): label {label} at {at(index)} {problem}; "
                f"class labels must be integers in [0, {num_classes}); fix the labels or the num_classes option"
            )

    def _regression_targets(self, y: np.ndarray, source: str, at) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.dtype.kind not in "biuf":
            raise FileFormatError(
                f"{self.name} ({source}): regression targets must be numbers of shape (n,) or (n, k), "
                f"got {y.dtype} of shape {y.shape}; store one number (or one row of numbers) per sample"
            )
        bad = first_non_finite(y)
        if bad is not None:
            raise InvalidValueError(
                f"{self.name} ({source}): y contains {y[bad]} at {at(bad[0])}{_position(bad[1:])}; "
                "targets must be finite (clean or impute the data first)"
            )
        return y.astype(self.dtype)


def _position(inner: tuple[int, ...]) -> str:
    """Where in a sample a bad value is: its feature, or its place in a sample of several axes."""
    if not inner:
        return ""
    return f", feature {inner[0]}" if len(inner) == 1 else f", position {inner}"
