"""Downloading into the cache with an injected fetcher (no network): mirrors, atomicity,
checksums, cache directory resolution and the offline error message."""

import os
import urllib.error

import numpy as np
import pytest

from framework.core.errors import FileFormatError
from framework.data.download import data_directory, download_file
from framework.data.mnist import MNIST
from tests.commands import run_command
from tests.conftest import free_port
from tests.data.conftest import TINY_MIRRORS, md5


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
    tampered = b"\x1f\x8b tampered"
    corrupt["https://mirror-a.invalid/tiny/t10k-labels-idx1-ubyte.gz"] = tampered
    fetch = make_fetcher(corrupt)
    with pytest.raises(FileNotFoundError) as info:
        tiny.dataset_class(cache_dir=tmp_path, fetch=fetch).load(np.random.default_rng(0))
    message = str(info.value)
    expected = tiny.dataset_class.file_table.test_labels.md5
    assert (
        "could not download https://mirror-a.invalid/tiny/t10k-labels-idx1-ubyte.gz (nor from 1 other mirror): "
        in message
    )
    assert f"the body has MD5 {md5(tampered)}, not the official {expected}" in message
    assert "; unreachable host for https://mirror-b.invalid/tiny/t10k-labels-idx1-ubyte.gz;" in message
    assert sorted(os.listdir(tmp_path / "tiny")) == sorted(set(tiny.gz) - {"t10k-labels-idx1-ubyte.gz"})


def test_offline_error_is_one_line_with_the_url_the_missing_files_and_data_path(tmp_path, tiny, make_fetcher):
    tiny.write(tmp_path / "tiny")
    (tmp_path / "tiny" / "train-images-idx3-ubyte.gz").unlink()
    (tmp_path / "tiny" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        tiny.dataset_class(cache_dir=tmp_path, fetch=make_fetcher({})).load(np.random.default_rng(0))
    assert str(info.value) == (
        "tiny: could not download https://mirror-a.invalid/tiny/train-images-idx3-ubyte.gz (nor from 1 other "
        "mirror): unreachable host for https://mirror-a.invalid/tiny/train-images-idx3-ubyte.gz; unreachable host "
        "for https://mirror-b.invalid/tiny/train-images-idx3-ubyte.gz; put train-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz (gzip'd as named, or uncompressed without .gz) in "
        f"{tmp_path / 'tiny'}, or give data.path=<directory holding them> (path= in Python)"
    )


def test_offline_the_download_stops_at_the_first_file_no_mirror_serves(tmp_path, tiny, make_fetcher):
    fetch = make_fetcher({})
    with pytest.raises(FileNotFoundError):
        tiny.dataset_class(cache_dir=tmp_path, fetch=fetch).load(np.random.default_rng(0))
    assert fetch.requested == [mirror + "train-images-idx3-ubyte.gz" for mirror in TINY_MIRRORS]


def test_a_failed_download_removes_only_the_directories_it_made(tmp_path, tiny, make_fetcher):
    user_dir = tmp_path / "mine" / "tiny"
    user_dir.mkdir(parents=True)
    for cache_dir in (tmp_path / "new" / "cache", tmp_path / "mine"):
        with pytest.raises(FileNotFoundError):
            tiny.dataset_class(cache_dir=cache_dir, fetch=make_fetcher({})).load(np.random.default_rng(0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"] and user_dir.is_dir()


def test_download_false_never_fetches(tmp_path, tiny, make_fetcher):
    fetch = make_fetcher(served_by("https://mirror-a.invalid/tiny/", tiny))
    with pytest.raises(FileNotFoundError, match=r"^tiny: downloading is off \(data.download=false\); put train-"):
        tiny.dataset_class(cache_dir=tmp_path, download=False, fetch=fetch).load(np.random.default_rng(0))
    assert fetch.requested == []


def test_path_option_reads_local_files_and_never_downloads(tmp_path, tiny, make_fetcher):
    fetch = make_fetcher(served_by("https://mirror-a.invalid/tiny/", tiny))
    local = tmp_path / "local"
    local.mkdir()
    with pytest.raises(FileNotFoundError, match=f"^tiny: data.path={local}: train-images-idx3-ubyte.gz, ") as info:
        tiny.dataset_class(path=local, fetch=fetch).load(np.random.default_rng(0))
    assert fetch.requested == []
    assert "nothing is downloaded when data.path is given" in str(info.value)


def test_cache_directory_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_DATA_DIR", str(tmp_path / "env"))
    assert data_directory("mnist", tmp_path / "option") == tmp_path / "option" / "mnist"
    assert data_directory("mnist") == tmp_path / "env" / "mnist"
    monkeypatch.delenv("FRAMEWORK_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_directory("fashion_mnist") == tmp_path / "home" / ".cache" / "framework" / "datasets" / "fashion_mnist"
    assert MNIST(cache_dir="~/data").directory() == tmp_path / "home" / "data" / "mnist"


def test_real_mnist_files_pass_the_download_checksums(tmp_path, requires_shared_mnist, make_fetcher, encode_idx):
    mirror = MNIST.file_table.mirrors[0]
    available = {mirror + path.name: path.read_bytes() for path in requires_shared_mnist.glob("*.gz")}
    fetch = make_fetcher(available)
    # The training images are not available offline: a one-image stand-in (uncompressed, so not checksummed).
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte").write_bytes(encode_idx(np.zeros((1, 28, 28), np.uint8)))
    with pytest.raises(FileFormatError, match="holds 1 images but"):
        MNIST(cache_dir=tmp_path, fetch=fetch).load(np.random.default_rng(0))
    # The real files verified and stay.
    downloaded = sorted(os.listdir(tmp_path / "mnist"))
    assert downloaded == sorted(
        [*(path.name for path in requires_shared_mnist.glob("*.gz")), "train-images-idx3-ubyte"]
    )


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


def test_the_command_offline_says_in_one_line_that_the_download_failed(tmp_path, monkeypatch):
    """Run as a user would, with every connection refused (a proxy on a closed port): one line,
    one progress line, and no cache directory left in the home directory."""
    monkeypatch.delenv("FRAMEWORK_DATA_DIR")
    proxy = f"http://127.0.0.1:{free_port()}"
    offline = {"HOME": str(tmp_path / "home"), "http_proxy": proxy, "https_proxy": proxy, "no_proxy": ""}
    (tmp_path / "home").mkdir()
    result = run_command("+experiment=mnist_cnn", "logger=none", cwd=tmp_path, env=offline)
    assert result.returncode == 2, result.stderr[-3000:]
    (line,) = result.stderr.strip().splitlines()
    cache = tmp_path / "home" / ".cache" / "framework" / "datasets" / "mnist"
    assert line.startswith(
        f"error: mnist: could not download {MNIST.file_table.mirrors[0]}train-images-idx3-ubyte.gz "
        "(nor from 2 other mirrors): "
    )
    assert line.endswith(
        "put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        f"t10k-labels-idx1-ubyte.gz (gzip'd as named, or uncompressed without .gz) in {cache}, "
        "or give data.path=<directory holding them> (path= in Python)"
    )
    assert [x for x in result.stdout.splitlines() if "download" in x] == [f"mnist: downloading 4 file(s) into {cache}"]
    assert list((tmp_path / "home").iterdir()) == []
