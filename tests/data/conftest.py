"""Fixtures for the dataset tests: IDX file builders, a tiny MNIST-like dataset and a fake
fetcher. Every test here runs with the network blocked and the data cache in tmp_path."""

import gzip
import hashlib
import socket
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from framework.data.mnist import IdxFile, IdxFileTable, IdxImageDataset

SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
IDX_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E}
TINY_MIRRORS = ("https://mirror-a.invalid/tiny/", "https://mirror-b.invalid/tiny/")


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``: magic, big-endian dimensions, big-endian values."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype.name], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture(autouse=True)
def offline_and_isolated(monkeypatch, tmp_path):
    """Fail any test that opens a network connection; keep the data cache out of the home directory."""

    def refuse(*args, **kwargs):
        raise AssertionError("a dataset test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("FRAMEWORK_DATA_DIR", str(tmp_path / "default-cache"))


class TinyIdx:
    """A 4-file IDX dataset of 6x5 images (12 train, 5 test) as gzip bytes, and a class whose
    file table carries their MD5 sums."""

    def __init__(self, rng_seed=0, *, n_train=12, n_test=5):
        rng = np.random.default_rng(rng_seed)
        self.arrays = {
            "train-images-idx3-ubyte.gz": rng.integers(0, 256, size=(n_train, 6, 5), dtype=np.uint8),
            "train-labels-idx1-ubyte.gz": rng.integers(0, 3, size=n_train, dtype=np.uint8),
            "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, size=(n_test, 6, 5), dtype=np.uint8),
            "t10k-labels-idx1-ubyte.gz": rng.integers(0, 3, size=n_test, dtype=np.uint8),
        }
        self.gz = {name: gzip.compress(idx_bytes(array)) for name, array in self.arrays.items()}
        entries = [IdxFile(name, md5(data)) for name, data in self.gz.items()]
        table = IdxFileTable(*entries, mirrors=TINY_MIRRORS, class_names=("a", "b", "c"))
        self.dataset_class = type("TinyDataset", (IdxImageDataset,), {"name": "tiny", "file_table": table})

    def write(self, directory: Path, *, raw: tuple[str, ...] = ()) -> Path:
        """Write the four files into ``directory``; names in ``raw`` uncompressed (without .gz)."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.gz.items():
            if name in raw:
                (directory / name.removesuffix(".gz")).write_bytes(gzip.decompress(data))
            else:
                (directory / name).write_bytes(data)
        return directory


@pytest.fixture
def tiny():
    return TinyIdx()


class FakeFetcher:
    """Serves ``files`` (url -> bytes) like a mirror; other URLs fail as unreachable. Records each URL asked."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.requested = []

    def __call__(self, url, handle):
        self.requested.append(url)
        if url not in self.files:
            raise urllib.error.URLError(f"unreachable host for {url}")
        handle.write(self.files[url])


@pytest.fixture
def requires_shared_mnist():
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"real MNIST files not available at {SHARED_MNIST}")
    return SHARED_MNIST


@pytest.fixture
def make_fetcher():
    return FakeFetcher


@pytest.fixture
def encode_idx():
    return idx_bytes


@pytest.fixture
def write_idx_file():
    return write_idx
