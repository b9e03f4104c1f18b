"""The mnist_cnn preset on real MNIST: the first 8,000 images of the official test files
train, the last 2,000 are held out, and the held-out accuracy is at least 98.5% for each
of 3 seeds (a test each). The files live outside the project (``../shared/data/mnist`` from a
checkout, or ``$FRAMEWORK_MNIST_TEST_FILES``); where they are absent the test is skipped
and says why."""

import os
from pathlib import Path

import numpy as np
import pytest

from framework.command import train
from framework.data.idx import read_idx

FILES = Path(os.environ.get("FRAMEWORK_MNIST_TEST_FILES", Path(__file__).resolve().parents[3] / "shared/data/mnist"))
IMAGES, LABELS = FILES / "t10k-images-idx3-ubyte.gz", FILES / "t10k-labels-idx1-ubyte.gz"
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def split_file(tmp_path_factory) -> Path:
    if not (IMAGES.is_file() and LABELS.is_file()):
        pytest.skip(f"the real MNIST test files are not here: {IMAGES} and {LABELS}")
    images, labels = read_idx(IMAGES, expect_ndim=3), read_idx(LABELS, expect_ndim=1)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    path = tmp_path_factory.mktemp("mnist") / "split.npz"
    np.savez(path, x=images[:8000], y=labels[:8000], x_test=images[8000:], y_test=labels[8000:])
    return path


@pytest.mark.long
@pytest.mark.parametrize("seed", SEEDS)
def test_mnist_cnn_preset_reaches_98_5_percent_on_held_out_real_images(seed, split_file, compose_config):
    cfg = compose_config(
        "+experiment=mnist_cnn",
        "data=npz",
        f"data.path={split_file}",
        "data.x_test_key=x_test",
        "data.y_test_key=y_test",
        "data.scale=true",  # uint8 pixels to [0, 1], as the mnist dataset does
        "data.val_fraction=0",  # all 8,000 train
        "trainer.monitor=loss",
        "callbacks.progress=null",
        f"seed={seed}",
    )
    result = train(cfg, log=lambda *_: None)
    assert result.trainer.model.input_shape == (1, 28, 28)
    accuracy = result.history.test["test_accuracy"]
    assert accuracy >= 0.985, f"held-out accuracy {accuracy:.4f} with seed {seed}"
