"""Downloading into the cache with an injected fetcher (no network): mirrors, atomicity,
checksums, cache directory resolution and the offline error message."""

import os
import urllib.error

import numpy as np
import pytest

from framework.data.download import data_directory, download_file
from framework.data.mnist import MNIST


def served_by(mirror: str, tiny) -> dict[str, bytes]:
    return {mirror + name: data for name, data in tiny.gz.items()}


def test_downloads_missing_files_into_the_cache_and_loads(tmp_path, tiny, make_fetcher):
    fetch = make_fetcher(served_by("https://mirror-a.invalid/tiny/", tiny))
    splits = tiny.dataset_class(cache_dir=tmp_path / "cache", fetch=fetch, val_fraction=0.25).load(
        np.random.default_rng(0)
    )
    cached = sorted(os.listdir(tmp_path / "cache" / "tiny"))
    assert cached == sorted(tiny.gz)
    assert len(fetch.requested) == 4
    assert splits.x_train.shape == (9, 30) and splits.x_val.shape == (3, 30) and splits.x_test.shape == (5, 30)

    again = make_fetcher({})
    tiny.dataset_class(cache_dir=tmp_path / "cache", fetch=again).load(np.random.default_rng(0))
    assert again.requested == [], "files already in the cache must not be fetched again"


def test_falls_back_to_the_next_mirror(tmp_path, tiny, make_fetcher):
    fetch = make_fetcher(served_by("https://mirror-b.invalid/tiny/", tiny))
    tiny.dataset_class(cache_dir=tmp_path, fetch=fetch).load(np.random.default_rng(0))
    first = fetch.requested[:2]
    assert first == [
        "https://mirror-a.invalid/tiny/train-images-idx3-ubyte.gz",
        "https://mirror-b.invalid/tiny/train-images-idx3-ubyte.gz",
    ]


def test_a_download_failing_midway_leaves_no_file(tmp_path):
    def fails_midway(url, handle):
        handle.write(b"\x1f\x8b first half of the body")
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(ConnectionError, match="connection reset by peer"):
        download_file("x.gz", tmp_path / "cache", "0" * 32, ["https://m.invalid/"], fails_midway)
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_download_with_the_wrong_checksum_is_discarded(tmp_path, tiny, make_fetcher):
    corrupt = served_by("https://mirror-a.invalid/tiny/", tiny)
    corrupt["https://mirror-a.invalid/tiny/t10k-labels-idx1-ubyte.gz"] = b"\x1f\x8b tampered"
    fetch = make_fetcher(corrupt)
    with pytest.raises(FileNotFoundError) as info:
        tiny.dataset_class(cache_dir=tmp_path, fetch=fetch).load(np.random.default_rng(0))
    message = str(info.value)
    assert "https://mirror-a.invalid/tiny/t10k-labels-idx1-ubyte.gz: the body has MD5" in message
    assert f"not the official {tiny.dataset_class.file_table.test_labels.md5}" in message
    assert "https://mirror-b.invalid/tiny/t10k-labels-idx1-ubyte.gz: <urlopen error unreachable host" in message
    assert sorted(os.listdir(tmp_path / "tiny")) == sorted(set(tiny.gz) - {"t10k-labels-idx1-ubyte.gz"})


def test_offline_error_lists_exactly_the_missing_files_and_where_to_put_them(tmp_path, tiny, make_fetcher):
    tiny.write(tmp_path / "tiny")
    (tmp_path / "tiny" / "train-images-idx3-ubyte.gz").unlink()
    (tmp_path / "tiny" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        tiny.dataset_class(cache_dir=tmp_path, fetch=make_fetcher({})).load(np.random.default_rng(0))
    message = str(info.value)
    assert f"tiny: 2 of 4 files are missing from {tmp_path / 'tiny'}; downloading failed" in message
    assert f"Put these files in {tmp_path / 'tiny'} (gzip'd as named" in message
    listed = message.split("):\n")[1].split("\nThey are")[0].split("\n")
    assert [line.strip() for line in listed] == ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert "path=<directory holding the four files>" in message
    assert "FRAMEWORK_DATA_DIR=<root>" in message


def test_download_false_never_fetches(tmp_path, tiny, make_fetcher):
    fetch = make_fetcher(served_by("https://mirror-a.invalid/tiny/", tiny))
    with pytest.raises(FileNotFoundError, match=r"downloading is off \(download=False\)"):
        tiny.dataset_class(cache_dir=tmp_path, download=False, fetch=fetch).load(np.random.default_rng(0))
    assert fetch.requested == []


def test_path_option_reads_local_files_and_never_downloads(tmp_path, tiny, make_fetcher):
    fetch = make_fetcher(served_by("https://mirror-a.invalid/tiny/", tiny))
    local = tmp_path / "local"
    local.mkdir()
    with pytest.raises(FileNotFoundError, match="they are not in path=") as info:
        tiny.dataset_class(path=local, fetch=fetch).load(np.random.default_rng(0))
    assert fetch.requested == []
    assert "train-labels-idx1-ubyte.gz" in str(info.value)


def test_cache_directory_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_DATA_DIR", str(tmp_path / "env"))
    assert data_directory("mnist", tmp_path / "option") == tmp_path / "option" / "mnist"
    assert data_directory("mnist") == tmp_path / "env" / "mnist"
    monkeypatch.delenv("FRAMEWORK_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_directory("fashion_mnist") == tmp_path / "home" / ".cache" / "framework" / "datasets" / "fashion_mnist"
    assert MNIST(cache_dir="~/data").directory() == tmp_path / "home" / "data" / "mnist"


def test_real_mnist_files_pass_the_download_checksums(tmp_path, requires_shared_mnist, make_fetcher):
    mirror = MNIST.file_table.mirrors[0]
    available = {mirror + path.name: path.read_bytes() for path in requires_shared_mnist.glob("*.gz")}
    fetch = make_fetcher(available)
    with pytest.raises(FileNotFoundError) as info:
        MNIST(cache_dir=tmp_path, fetch=fetch).load(np.random.default_rng(0))
    # The three real files verify and stay; only the training images (not available offline) are reported missing.
    assert sorted(os.listdir(tmp_path / "mnist")) == sorted(path.name for path in requires_shared_mnist.glob("*.gz"))
    assert "1 of 4 files are missing" in str(info.value)
    assert "  train-images-idx3-ubyte.gz\n" in str(info.value)


def test_urllib_errors_count_as_download_failures(tmp_path):
    def refuses(url, handle):
        raise urllib.error.HTTPError(url, 403, "Forbidden", {}, None)

    with pytest.raises(ConnectionError, match="HTTP Error 403: Forbidden"):
        download_file("x.gz", tmp_path, "0" * 32, ["https://a.invalid/", "https://b.invalid/"], refuses)
    assert list(tmp_path.iterdir()) == []


def test_the_default_fetcher_uses_urllib_which_is_blocked_in_tests(tmp_path):
    from framework.data.download import urllib_fetch

    with pytest.raises(AssertionError, match="tried to use the network"), open(tmp_path / "body", "wb") as handle:
        urllib_fetch("http://example.invalid/file.gz", handle)
