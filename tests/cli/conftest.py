import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from framework.command.paths import conf_dir, experiments_dir

#: Overrides that make any run tiny: one short epoch, no progress bar.
TINY = ["trainer.epochs=1", "trainer.batch_size=64", "callbacks.progress=null"]


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="session")
def idx_dir(tmp_path_factory) -> Path:
    """Tiny MNIST-shaped IDX files (gzip'd, official names) for mnist and fashion_mnist."""
    directory = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    for split, count in (("train", 120), ("t10k", 40)):
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, size=(count, 28, 28)))
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, size=count))
    return directory


@pytest.fixture(scope="session")
def user_files(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("user-data")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 3)), rng.integers(0, 3, size=80)
    np.savez(directory / "data.npz", x=x, y=y)
    rows = "\n".join(",".join(f"{v:.5f}" for v in row) + f",{label}" for row, label in zip(x, y))
    (directory / "data.csv").write_text("a,b,c,label\n" + rows + "\n")
    return {"npz": directory / "data.npz", "csv": directory / "data.csv"}


@pytest.fixture
def data_overrides(idx_dir, user_files):
    """Per dataset, the overrides that point it at local tiny data."""
    return {
        "mnist": [f"data.path={idx_dir}", "data.verify_checksum=false", "data.download=false"],
        "fashion_mnist": [f"data.path={idx_dir}", "data.verify_checksum=false", "data.download=false"],
        "npz": [f"data.path={user_files['npz']}"],
        "csv": [f"data.path={user_files['csv']}"],
    }


@pytest.fixture
def compose_config(tmp_path):
    """Compose the project's config (with plugin config dirs and experiments) like the command does."""

    def make(*overrides):
        untracked = [] if any(o.startswith("logger=") for o in overrides) else ["logger=none"]
        with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
            return compose("config", overrides=[f"output_dir={tmp_path}", *untracked, *overrides])

    return make


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


def experiments() -> list[str]:
    return sorted(p.stem for p in experiments_dir().glob("*.yaml"))
