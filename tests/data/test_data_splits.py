"""What the Dataset base class guarantees for every dataset: deterministic splits, dtypes,
preprocessing (scale, flatten, standardize on train statistics), option checks, configs;
plus the digits and synthetic datasets."""

import numpy as np
import pytest

from framework.core.errors import InvalidValueError
from framework.data import (
    BUILTIN_DATASETS,
    XOR,
    Blobs,
    CsvDataset,
    Dataset,
    DataSplits,
    Digits,
    NpzDataset,
    RegressionCurve,
    Spirals,
)

RNG = np.random.default_rng
ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def assert_same_splits(a: DataSplits, b: DataSplits):
    for key in ARRAYS:
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


# --- determinism ---


@pytest.mark.parametrize("dataset_class", [Digits, Spirals, Blobs, XOR, RegressionCurve])
def test_same_seed_same_splits_different_seed_different_splits(dataset_class):
    first, again, other = (dataset_class().load(RNG(seed)) for seed in (3, 3, 4))
    assert_same_splits(first, again)
    assert not np.array_equal(first.x_val, other.x_val)
    assert not np.array_equal(first.x_test, other.x_test)


def test_validation_split_is_a_seeded_permutation_of_the_training_samples(tmp_path):
    x = np.arange(20.0)[:, None]
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=np.zeros(20, np.int64), xt=x[:2], yt=np.zeros(2, np.int64))
    dataset = NpzDataset(path=path, x_test_key="xt", y_test_key="yt", val_fraction=0.25)
    first, other = dataset.load(RNG(0)), dataset.load(RNG(1))
    assert len(first.x_val) == 5 and len(first.x_train) == 15
    np.testing.assert_array_equal(np.sort(np.concatenate([first.x_train, first.x_val])[:, 0]), np.arange(20.0))
    assert not np.array_equal(first.x_val, other.x_val)
    np.testing.assert_array_equal(first.x_val[:, 0], np.sort(RNG(0).permutation(20)[:5]))


# --- dtypes and preprocessing ---


def test_float32_by_default_and_float64_on_request():
    splits = Digits().load(RNG(0))
    for key in ("x_train", "x_val", "x_test"):
        assert getattr(splits, key).dtype == np.float32
        assert getattr(splits, key).flags.c_contiguous
    for key in ("y_train", "y_val", "y_test"):
        assert getattr(splits, key).dtype == np.int64 and getattr(splits, key).ndim == 1
    assert Digits(dtype="float64").load(RNG(0)).x_test.dtype == np.float64
    assert RegressionCurve(dtype="float64").load(RNG(0)).y_train.dtype == np.float64


def test_digits_scaled_by_16_and_flatten_option():
    raw = Digits(scale=False, flatten=False).load(RNG(0))
    scaled = Digits().load(RNG(0))
    assert raw.input_shape == (1, 8, 8) and scaled.input_shape == (64,)
    assert raw.x_train.max() == 16.0
    np.testing.assert_allclose(scaled.x_train, raw.x_train.reshape(len(raw.x_train), 64) / 16)


def test_standardize_uses_training_statistics_only():
    plain = Digits().load(RNG(5))
    standardized = Digits(standardize=True).load(RNG(5))
    mean = plain.x_train.astype(np.float64).mean(axis=0)
    std = plain.x_train.astype(np.float64).std(axis=0)
    std[std == 0] = 1.0
    for key in ("x_train", "x_val", "x_test"):
        expected = (getattr(plain, key) - mean) / std
        np.testing.assert_allclose(getattr(standardized, key), expected, rtol=1e-5, atol=1e-5)
    varying = plain.x_train.std(axis=0) > 0
    np.testing.assert_allclose(standardized.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(standardized.x_train.std(axis=0)[varying], 1, rtol=1e-4)
    # Test-set statistics were not used: its own mean is not zero.
    assert np.abs(standardized.x_test.mean(axis=0)).max() > 0.05


def test_standardize_handles_the_same_points_in_train_and_test_once():
    splits = XOR(truth_table=True, standardize=True, val_fraction=0).load(RNG(0))
    np.testing.assert_allclose(splits.x_train, [[-1, -1], [-1, 1], [1, -1], [1, 1]])
    np.testing.assert_array_equal(splits.x_test, splits.x_train)
    assert not np.shares_memory(splits.x_test, splits.x_train)


def test_splits_do_not_share_memory():
    splits = Spirals().load(RNG(0))
    arrays = [splits.x_train, splits.x_val, splits.x_test]
    assert not any(np.shares_memory(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1 :])


# --- option checks ---


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"val_fraction": 1.0}, r"val_fraction must be in \[0, 1\), got 1.0"),
        ({"val_fraction": -0.1}, r"val_fraction must be in \[0, 1\)"),
        ({"dtype": "int32"}, "dtype must be float32 or float64, got int32"),
        ({"scale": "yes"}, "scale must be true or false, got 'yes'"),
        ({"test_fraction": 1.5}, r"test_fraction must be in \[0, 1\)"),
    ],
)
def test_bad_common_options_are_named(options, message):
    with pytest.raises(InvalidValueError, match=message) as info:
        Digits(**options)
    assert str(info.value).startswith("digits: ")
    assert info.value.argument == next(iter(options))  # lets a config builder name the config key


def test_bad_synthetic_options_are_named():
    with pytest.raises(InvalidValueError, match="spirals: n_samples must be a positive integer, got 0"):
        Spirals(n_samples=0)
    with pytest.raises(InvalidValueError, match=r"blobs: noise must be in \[0, inf\], got -1.0"):
        Blobs(noise=-1)
    with pytest.raises(InvalidValueError, match="blobs: centers must be a positive integer"):
        Blobs(centers=1.5)


def test_a_split_that_leaves_nothing_to_train_on_is_refused():
    with pytest.raises(InvalidValueError, match=r"val_fraction=0\.6 would hold out 1 of 1 samples.*lower val_fraction"):
        Spirals(n_samples=2, test_fraction=0.5, val_fraction=0.6).load(RNG(0))


def test_load_needs_a_generator():
    with pytest.raises(InvalidValueError, match=r"load\(rng\) needs a numpy.random.Generator, got int"):
        Digits().load(0)


# --- registry and configs ---


def test_builtin_datasets_have_unique_names():
    names = [cls.name for cls in BUILTIN_DATASETS]
    assert sorted(names) == sorted(
        ["digits", "mnist", "fashion_mnist", "npz", "csv", "spirals", "blobs", "xor", "regression_curve"]
    )
    assert all(issubclass(cls, Dataset) for cls in BUILTIN_DATASETS)


@pytest.mark.parametrize("dataset_class", BUILTIN_DATASETS, ids=lambda cls: cls.name)
def test_get_config_rebuilds_an_equal_dataset(dataset_class, tmp_path):
    extra = {"path": str(tmp_path / "f")} if dataset_class in (NpzDataset, CsvDataset) else {}
    config = dataset_class(val_fraction=0.3, dtype="float64", **extra).get_config()
    assert config["val_fraction"] == 0.3 and config["dtype"] == "float64"
    assert dataset_class(**config).get_config() == config


def test_repr_shows_options_that_differ_from_defaults():
    assert repr(Blobs(centers=5, standardize=True)) == "Blobs(standardize=True, centers=5)"


# --- digits and synthetic datasets ---


def test_digits_loads_offline():
    splits = Digits().load(RNG(0))  # the network is blocked for every test here
    assert len(splits.x_train) + len(splits.x_val) + len(splits.x_test) == 1797
    assert len(splits.x_test) == 359
    assert splits.class_names == [str(d) for d in range(10)] and splits.num_classes == 10
    assert splits.x_train.max() == 1.0 and splits.x_train.min() == 0.0
    assert set(np.unique(splits.y_train)) == set(range(10))


def test_spirals_are_two_balanced_interleaved_arms():
    splits = Spirals(n_samples=400, noise=0.0, val_fraction=0, test_fraction=0).load(RNG(0))
    x, y = splits.x_train, splits.y_train
    assert np.bincount(y).tolist() == [200, 200]
    radius = np.hypot(x[:, 0], x[:, 1])
    assert radius.max() <= 1.0 + 1e-6
    # Class 1 is class 0 turned by half a turn: at the same radius, opposite points.
    angle = np.arctan2(x[:, 1], x[:, 0]) - radius * 1.5 * 2 * np.pi
    np.testing.assert_allclose(np.cos(angle[y == 0]), 1, atol=1e-4)
    np.testing.assert_allclose(np.cos(angle[y == 1]), -1, atol=1e-4)


def test_blobs_classes_and_features():
    splits = Blobs(centers=4, n_features=3, n_samples=200).load(RNG(0))
    assert splits.num_classes == 4 and splits.input_shape == (3,)
    assert set(np.unique(splits.y_train)) == {0, 1, 2, 3}


def test_xor_labels_follow_the_nearest_corner():
    splits = XOR(n_samples=200, noise=0.05).load(RNG(0))
    corner = np.rint(splits.x_train).astype(int)
    np.testing.assert_array_equal(splits.y_train, corner[:, 0] ^ corner[:, 1])
    assert splits.num_classes == 2


def test_regression_curve_targets():
    splits = RegressionCurve(noise=0.0, n_samples=100).load(RNG(0))
    assert splits.task == "regression" and splits.num_classes is None and splits.class_names is None
    assert splits.x_train.shape[1:] == (1,) and splits.y_train.shape == (len(splits.x_train), 1)
    assert splits.y_train.dtype == np.float32
    np.testing.assert_allclose(splits.y_train, 0.5 + 0.4 * np.sin(np.pi * splits.x_train), atol=1e-6)
    assert splits.describe() == (
        "regression_curve: regression, targets (1,), input (1,), train 72 / val 8 / test 20, float32"
    )
