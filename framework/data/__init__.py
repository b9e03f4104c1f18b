"""Datasets: each ``Dataset`` turns its options and a generator into ``DataSplits``.

import numpy as np
from framework.data import Digits

splits = Digits(standardize=True).load(np.random.default_rng(0))
print(splits.describe())
"""

from framework.data.base import Dataset, RawData
from framework.data.digits import Digits
from framework.data.files import CsvDataset, NpzDataset
from framework.data.mnist import MNIST, FashionMNIST
from framework.data.splits import DataSplits, holdout
from framework.data.synthetic import XOR, Blobs, RegressionCurve, Spirals

BUILTIN_DATASETS = (Digits, MNIST, FashionMNIST, NpzDataset, CsvDataset, Spirals, Blobs, XOR, RegressionCurve)

__all__ = [
    "BUILTIN_DATASETS",
    "Blobs",
    "CsvDataset",
    "DataSplits",
    "Dataset",
    "Digits",
    "FashionMNIST",
    "MNIST",
    "NpzDataset",
    "RawData",
    "RegressionCurve",
    "Spirals",
    "XOR",
    "holdout",
]
