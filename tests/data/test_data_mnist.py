"""MNIST-style datasets read from IDX files: loading, checksums, label checks, the official
MD5 tables, and the real MNIST test files when they are available."""

import gzip
import hashlib

import numpy as np
import pytest

from framework.core.errors import FileFormatError
from framework.data import MNIST, FashionMNIST
from framework.data.idx import read_idx
from framework.data.mnist import IdxImageDataset


def test_loads_gzip_and_raw_files_from_path(tmp_path, tiny):
    directory = tiny.write(tmp_path / "files", raw=("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
    splits = tiny.dataset_class(path=directory, val_fraction=0.25, flatten=False).load(np.random.default_rng(0))
    assert splits.input_shape == (1, 6, 5)
    assert splits.class_names == ["a", "b", "c"] and splits.num_classes == 3
    train_pixels = tiny.arrays["train-images-idx3-ubyte.gz"]
    # The 9 kept + 3 validation samples are the 12 training images, scaled by 1/255.
    rebuilt = np.concatenate([splits.x_train, splits.x_val]) * 255
    assert sorted(map(bytes, np.rint(rebuilt).astype(np.uint8))) == sorted(map(bytes, train_pixels))
    np.testing.assert_allclose(splits.x_test[:, 0] * 255, tiny.arrays["t10k-images-idx3-ubyte.gz"], atol=1e-4)
    np.testing.assert_array_equal(splits.y_test, tiny.arrays["t10k-labels-idx1-ubyte.gz"])
    assert splits.x_train.dtype == np.float32 and splits.y_train.dtype == np.int64


def test_checksum_mismatch_of_a_local_file(tmp_path, tiny):
    directory = tiny.write(tmp_path / "files")
    labels = directory / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes()), compresslevel=1, mtime=1))
    with pytest.raises(FileFormatError) as info:
        tiny.dataset_class(path=directory).load(np.random.default_rng(0))
    message = str(info.value)
    assert str(labels) in message
    assert f"does not match the official {tiny.dataset_class.file_table.train_labels.md5}" in message
    assert "verify_checksum=False" in message
    tiny.dataset_class(path=directory, verify_checksum=False).load(np.random.default_rng(0))


def test_checksum_mismatch_in_the_cache_says_to_delete_the_file(tmp_path, tiny):
    directory = tiny.write(tmp_path / "tiny")
    (directory / "t10k-images-idx3-ubyte.gz").write_bytes(tiny.gz["train-images-idx3-ubyte.gz"])
    with pytest.raises(FileFormatError, match="delete it so that it is downloaded again"):
        tiny.dataset_class(cache_dir=tmp_path).load(np.random.default_rng(0))


def test_label_count_mismatch_names_both_files(tmp_path, write_idx_file):
    directory = tmp_path / "files"
    directory.mkdir()
    write_idx_file(directory / "train-images-idx3-ubyte", np.zeros((10, 4, 4), np.uint8), gz=False)
    write_idx_file(directory / "train-labels-idx1-ubyte", np.zeros(9, np.uint8), gz=False)
    write_idx_file(directory / "t10k-images-idx3-ubyte", np.zeros((3, 4, 4), np.uint8), gz=False)
    write_idx_file(directory / "t10k-labels-idx1-ubyte", np.zeros(3, np.uint8), gz=False)
    with pytest.raises(FileFormatError) as info:
        MNIST(path=directory).load(np.random.default_rng(0))
    message = str(info.value)
    assert f"{directory / 'train-images-idx3-ubyte'} holds 10 images" in message
    assert f"{directory / 'train-labels-idx1-ubyte'} holds 9 labels" in message


@pytest.mark.parametrize("bad_label", [10, 255])
def test_label_outside_the_classes_names_file_and_label(tmp_path, write_idx_file, bad_label):
    directory = tmp_path / "files"
    directory.mkdir()
    write_idx_file(directory / "train-images-idx3-ubyte.gz", np.zeros((4, 2, 2), np.uint8), gz=True)
    write_idx_file(directory / "train-labels-idx1-ubyte.gz", np.array([1, 2, 3, 4], np.uint8), gz=True)
    write_idx_file(directory / "t10k-images-idx3-ubyte.gz", np.zeros((3, 2, 2), np.uint8), gz=True)
    write_idx_file(directory / "t10k-labels-idx1-ubyte.gz", np.array([0, bad_label, 9], np.uint8), gz=True)
    with pytest.raises(FileFormatError) as info:
        FashionMNIST(path=directory, verify_checksum=False).load(np.random.default_rng(0))
    message = str(info.value)
    assert str(directory / "t10k-labels-idx1-ubyte.gz") in message
    assert f"label {bad_label} at index 1 is not below the number of classes (10)" in message


def test_images_must_be_unsigned_bytes(tmp_path, tiny, write_idx_file):
    directory = tiny.write(tmp_path / "files")
    (directory / "t10k-images-idx3-ubyte.gz").unlink()
    bad = write_idx_file(directory / "t10k-images-idx3-ubyte", np.zeros((5, 6, 5), np.float32), gz=False)
    with pytest.raises(FileFormatError, match="holds float32 values") as info:
        tiny.dataset_class(path=directory).load(np.random.default_rng(0))
    assert str(bad) in str(info.value)


def test_one_class_serves_both_datasets():
    assert issubclass(MNIST, IdxImageDataset) and issubclass(FashionMNIST, IdxImageDataset)
    assert MNIST.raw is FashionMNIST.raw
    assert (MNIST.name, FashionMNIST.name) == ("mnist", "fashion_mnist")
    assert FashionMNIST.file_table.class_names[9] == "Ankle boot"
    for table in (MNIST.file_table, FashionMNIST.file_table):
        assert len({entry.md5 for entry in table.files}) == 4
        assert all(len(entry.md5) == 32 and int(entry.md5, 16) >= 0 for entry in table.files)
    assert FashionMNIST.file_table.train_images.md5 == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"


def test_get_config_round_trips_without_the_fetcher(tmp_path):
    dataset = MNIST(path=tmp_path, mirrors=["https://example.invalid/"], val_fraction=0.2, fetch=print)
    config = dataset.get_config()
    assert "fetch" not in config
    assert MNIST(**config).get_config() == config
    assert repr(dataset) == f"MNIST(val_fraction=0.2, path={str(tmp_path)!r}, mirrors=['https://example.invalid/'])"


# --- the real MNIST files (skipped when /work/shared/data/mnist is absent) ---


def test_real_mnist_checksums_match_the_table_and_md5sums(requires_shared_mnist):
    published = dict(line.split()[::-1] for line in (requires_shared_mnist / "MD5SUMS").read_text().splitlines())
    table = {entry.filename: entry.md5 for entry in MNIST.file_table.files}
    assert published  # three files listed
    for filename, md5 in published.items():
        assert table[filename] == md5
        data = (requires_shared_mnist / filename).read_bytes()
        assert hashlib.md5(data, usedforsecurity=False).hexdigest() == md5


def test_real_mnist_test_set(requires_shared_mnist):
    images = read_idx(requires_shared_mnist / "t10k-images-idx3-ubyte.gz", expect_ndim=3)
    labels = read_idx(requires_shared_mnist / "t10k-labels-idx1-ubyte.gz", expect_ndim=1)
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,)
    assert images.max() == 255 and images.min() == 0
    # Published per-digit counts of the MNIST test set, and its first five labels.
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    train_labels = read_idx(requires_shared_mnist / "train-labels-idx1-ubyte.gz", expect_ndim=1)
    assert train_labels.shape == (60_000,)


def test_real_mnist_through_the_dataset(tmp_path, requires_shared_mnist):
    """The real gzip'd test files (checksums verified) plus uncompressed copies standing in as training files."""
    directory = tmp_path / "mnist"
    directory.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        data = (requires_shared_mnist / name).read_bytes()
        (directory / name).write_bytes(data)
        (directory / name.replace("t10k", "train").removesuffix(".gz")).write_bytes(gzip.decompress(data))
    splits = MNIST(path=directory).load(np.random.default_rng(0))
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (9_000, 1_000, 10_000)
    assert splits.input_shape == (784,) and splits.x_test.dtype == np.float32
    assert splits.x_test.min() == 0.0 and splits.x_test.max() == 1.0
    assert (
        splits.describe()
        == "mnist: classification, 10 classes, input (784,), train 9000 / val 1000 / test 10000, float32"
    )
