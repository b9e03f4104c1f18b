"""``check_dataset``: splits, dtypes and determinism of a dataset."""

import numpy as np

from framework.conformance._assert import fail, label
from framework.data.base import Dataset


def check_dataset(dataset: Dataset, *, seed: int = 0) -> None:
    """Check ``dataset``:

    - it subclasses ``framework.data.Dataset`` and loads from a seeded generator;
    - inputs are the configured float ``dtype``; a training split is not empty, and every
      split has as many targets as inputs and the same per-sample shape;
    - classification targets are integer class indices below ``num_classes``;
    - the same seed gives the same arrays, bit for bit; ``type(d)(**d.get_config())``
      gives the same arrays too.
    """
    owner = label(dataset)
    if not isinstance(dataset, Dataset):
        fail(owner, "does not subclass framework.data.Dataset")
    splits = dataset.load(np.random.default_rng(seed))
    if len(splits.x_train) == 0:
        fail(owner, "the training split is empty")
    for split in ("train", "val", "test"):
        _check_split(owner, dataset, splits, split)
    for again, how in ((dataset, "the same seed"), (type(dataset)(**dataset.get_config()), "a rebuilt dataset")):
        other = again.load(np.random.default_rng(seed))
        for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
            if not np.array_equal(getattr(splits, field), getattr(other, field)):
                fail(owner, f"{how} gives another {field}; draw every random number from the rng given to raw()")


def _check_split(owner: str, dataset: Dataset, splits, split: str) -> None:
    x, y = getattr(splits, f"x_{split}"), getattr(splits, f"y_{split}")
    if len(x) != len(y):
        fail(owner, f"the {split} split has {len(x)} inputs but {len(y)} targets")
    if x.dtype != np.dtype(dataset.dtype):
        fail(owner, f"x_{split} is {x.dtype}, the dataset's dtype is {dataset.dtype}")
    if len(x) and x.shape[1:] != splits.x_train.shape[1:]:
        fail(owner, f"x_{split} has per-sample shape {x.shape[1:]}, x_train {splits.x_train.shape[1:]}")
    if splits.task != "classification" or not len(y):
        return
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= splits.num_classes:
        fail(owner, f"y_{split} must be integer class indices in [0, {splits.num_classes}), got {y.dtype}")
