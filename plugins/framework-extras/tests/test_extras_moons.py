import framework as fw
import numpy as np
import pytest
from framework.testing import check_config_round_trip, check_dataset

from framework_extras import Moons


def test_same_seed_same_arrays():
    first = Moons().load(np.random.default_rng(7))
    second = Moons().load(np.random.default_rng(7))
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, split), getattr(second, split))


def test_other_seed_other_arrays():
    first = Moons().load(np.random.default_rng(1))
    second = Moons().load(np.random.default_rng(2))
    assert not np.array_equal(first.x_train, second.x_train)


def test_splits_shapes_and_classes():
    splits = Moons(n_samples=200, test_fraction=0.25, val_fraction=0.1).load(np.random.default_rng(0))
    assert splits.task == "classification"
    assert splits.num_classes == 2
    assert splits.input_shape == (2,)
    assert len(splits.x_test) == 50
    assert len(splits.x_train) + len(splits.x_val) == 150
    assert splits.x_train.dtype == np.float32
    labels = np.concatenate([splits.y_train, splits.y_val, splits.y_test])
    assert np.bincount(labels).tolist() == [100, 100]


def test_noise_free_points_lie_on_their_half_circles():
    splits = Moons(n_samples=100, noise=0.0, val_fraction=0.0, dtype="float64").load(np.random.default_rng(0))
    x, y = np.concatenate([splits.x_train, splits.x_test]), np.concatenate([splits.y_train, splits.y_test])
    upper, lower = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    assert (upper[:, 1] >= 0).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert (lower[:, 1] <= 0.5).all()


def test_standardize_option_is_the_frameworks():
    splits = Moons(n_samples=400, standardize=True).load(np.random.default_rng(0))
    np.testing.assert_allclose(splits.x_train.mean(axis=0), 0.0, atol=1e-5)


@pytest.mark.parametrize(
    ("option", "value"), [("n_samples", 0), ("n_samples", 2.5), ("noise", -0.1), ("test_fraction", 1.0)]
)
def test_refuses_bad_options(option, value):
    with pytest.raises(fw.InvalidValueError, match=option):
        Moons(**{option: value})


def test_config_round_trip():
    check_config_round_trip(Moons(n_samples=64, noise=0.3, test_fraction=0.5, standardize=True))
    assert repr(Moons(noise=0.3)) == "Moons(noise=0.3)"


def test_conformance():
    check_dataset(Moons(n_samples=64, noise=0.3))
