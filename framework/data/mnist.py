"""MNIST and Fashion-MNIST: one IDX-backed class, parametrized by each dataset's file table.

Files are looked for in ``path`` when given (no download), else in the cache directory
``<cache_dir or $FRAMEWORK_DATA_DIR or ~/.cache/framework/datasets>/<name>``, where missing
ones are downloaded. Each file may be gzip'd (official name) or raw (name without ``.gz``);
gzip'd files are checked against the official MD5 sums.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from framework.core.errors import FileFormatError, InvalidValueError, MissingFileError
from framework.data.base import Dataset, RawData, check_bool
from framework.data.download import Fetch, data_directory, download_file, urllib_fetch, verify_md5
from framework.data.idx import read_idx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdxFile:
    filename: str  # official gzip'd name
    md5: str  # of the gzip'd file


@dataclass(frozen=True)
class IdxFileTable:
    """The four official files of an IDX image dataset, where to get them, and its class names."""

    train_images: IdxFile
    train_labels: IdxFile
    test_images: IdxFile
    test_labels: IdxFile
    mirrors: tuple[str, ...]
    class_names: tuple[str, ...]

    @property
    def files(self) -> tuple[IdxFile, ...]:
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


# MD5 sums as published with the datasets (MNIST: as used by torchvision; they match the real files'
# MD5SUMS for t10k images, t10k labels and train labels).
MNIST_FILES = IdxFileTable(
    train_images=IdxFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    train_labels=IdxFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    test_images=IdxFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    test_labels=IdxFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    class_names=tuple(str(digit) for digit in range(10)),
)

# MD5 sums from the README of github.com/zalandoresearch/fashion-mnist.
FASHION_MNIST_FILES = IdxFileTable(
    train_images=IdxFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    train_labels=IdxFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    test_images=IdxFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    test_labels=IdxFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
)


class IdxImageDataset(Dataset):
    """28x28 grayscale images with labels, read from the four IDX files of ``file_table``.

    ``fetch(url, handle)`` replaces the urllib download (for tests or proxies); it is not part
    of ``get_config`` because it is code, not configuration.
    """

    file_table: ClassVar[IdxFileTable]

    def __init__(
        self,
        *,
        path=None,
        cache_dir=None,
        download=True,
        verify_checksum=True,
        mirrors=None,
        fetch: Fetch | None = None,
        **common,
    ):
        super().__init__(**common)
        self.path = None if path is None else str(path)
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.download = check_bool(self.name, "download", download)
        self.verify_checksum = check_bool(self.name, "verify_checksum", verify_checksum)
        if mirrors is not None and (isinstance(mirrors, str) or not all(isinstance(m, str) for m in mirrors)):
            raise InvalidValueError(f"{self.name}: mirrors must be a list of base URLs, got {mirrors!r}", "mirrors")
        self.mirrors = None if mirrors is None else list(mirrors)
        self.fetch = fetch or urllib_fetch

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "path": self.path,
            "cache_dir": self.cache_dir,
            "download": self.download,
            "verify_checksum": self.verify_checksum,
            "mirrors": self.mirrors,
        }

    def raw(self, rng) -> RawData:
        paths = self.local_files()
        x_train, y_train = self._images_and_labels(
            paths[self.file_table.train_images], paths[self.file_table.train_labels]
        )
        x_test, y_test = self._images_and_labels(paths[self.file_table.test_images], paths[self.file_table.test_labels])
        return RawData(
            x_train,
            y_train,
            x_test,
            y_test,
            num_classes=len(self.file_table.class_names),
            class_names=list(self.file_table.class_names),
            value_range=(0.0, 255.0),
            train_source=str(paths[self.file_table.train_labels]),
            test_source=str(paths[self.file_table.test_labels]),
        )

    def directory(self) -> Path:
        """Where the files are read from: ``path`` if given, else this dataset's cache directory."""
        return Path(self.path).expanduser() if self.path is not None else data_directory(self.name, self.cache_dir)

    def local_files(self) -> dict[IdxFile, Path]:
        """Find (or download) all four files and verify their checksums; map each entry to its path."""
        directory = self.directory()
        found = {entry: _existing(directory, entry.filename) for entry in self.file_table.files}
        missing = [entry for entry, path in found.items() if path is None]
        failure = None
        if missing and self.path is None and self.download:
            failure = self._download(missing, directory, found)
        downloaded = {entry for entry in missing if found[entry] is not None}
        missing = [entry for entry in missing if entry not in downloaded]
        if missing:
            raise MissingFileError(self._missing_message(directory, missing, failure))
        if self.verify_checksum:
            for entry, path in found.items():
                if entry not in downloaded and path.name == entry.filename:
                    verify_md5(path, entry.md5, fix=self._checksum_fix())
        return found

    def _download(self, missing: list[IdxFile], directory: Path, found: dict) -> str | None:
        """Download ``missing`` into ``directory`` (each path into ``found``), stopping at the first
        file no mirror serves: returns why. The directories a failed download made are removed."""
        made = [folder for folder in (directory, *directory.parents) if not folder.exists()]
        log.info("%s: downloading %d file(s) into %s", self.name, len(missing), directory)
        try:
            for entry in missing:
                mirrors = self.mirrors or self.file_table.mirrors
                found[entry] = download_file(entry.filename, directory, entry.md5, mirrors, self.fetch)
        except ConnectionError as exc:
            for folder in made:  # innermost first; one that holds anything stays, and so do its parents
                try:
                    folder.rmdir()
                except OSError:
                    break
            return str(exc)
        return None

    def _checksum_fix(self) -> str:
        if self.path is not None:
            return "replace it with the official file, or pass verify_checksum=False if it is deliberately different"
        return "delete it so that it is downloaded again"

    def _missing_message(self, directory: Path, missing: list[IdxFile], failure: str | None) -> str:
        names = ", ".join(entry.filename for entry in missing)
        form = "(gzip'd as named, or uncompressed without .gz)"
        if self.path is not None:
            return (
                f"{self.name}: data.path={self.path}: {names} not found there (nothing is downloaded when data.path "
                f"is given); put them there {form}, or leave data.path out to download them"
            )
        why = failure or "downloading is off (data.download=false)"
        return (
            f"{self.name}: {why}; put {names} {form} in {directory}, "
            "or give data.path=<directory holding them> (path= in Python)"
        )

    def _images_and_labels(self, images_path: Path, labels_path: Path):
        images = read_idx(images_path, expect_ndim=3)
        labels = read_idx(labels_path, expect_ndim=1)
        for path, array in ((images_path, images), (labels_path, labels)):
            if array.dtype.name != "uint8":
                raise FileFormatError(
                    f"{path}: holds {array.dtype} values, but {self.name} files hold unsigned bytes; "
                    "check that the file is the one named"
                )
        if len(images) != len(labels):
            raise FileFormatError(
                f"{self.name}: {images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
                "the two files must come from the same release (replace the mismatched one)"
            )
        return images, labels


def _existing(directory: Path, filename: str) -> Path | None:
    """The gzip'd file if present, else the uncompressed one, else None."""
    for candidate in (directory / filename, directory / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


class MNIST(IdxImageDataset):
    """Handwritten digits, 60,000 train and 10,000 test images of 28x28 pixels, 10 classes."""

    name = "mnist"
    file_table = MNIST_FILES


class FashionMNIST(IdxImageDataset):
    """Zalando article images, 60,000 train and 10,000 test images of 28x28 pixels, 10 classes."""

    name = "fashion_mnist"
    file_table = FASHION_MNIST_FILES
