"""The two notebooks the project grew from, run through the Trainer on real MNIST
digits (the 10k test images, when available): their setups must learn.

- 000: 784-16-16-10, ReLU, Glorot uniform, softmax cross-entropy, full-batch SGD at lr 0.1.
- 003: He normal initialization, Adam, minibatches shuffled without replacement.
"""

from pathlib import Path

import numpy as np
import pytest

from framework.core import MSE, SGD, Accuracy, Adam, Dense, Metric, ReLU, Sequential, SoftmaxCrossEntropy
from framework.data.idx import read_idx
from framework.training.trainer import Trainer

MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
IMAGES, LABELS = MNIST / "t10k-images-idx3-ubyte.gz", MNIST / "t10k-labels-idx1-ubyte.gz"
TRAIN, HELD_OUT = 2000, 1000


@pytest.fixture(scope="module")
def digits():
    if not (IMAGES.is_file() and LABELS.is_file()):
        pytest.skip(f"MNIST test files not available in {MNIST}")
    images = read_idx(IMAGES, expect_ndim=3)[: TRAIN + HELD_OUT]
    labels = read_idx(LABELS, expect_ndim=1)[: TRAIN + HELD_OUT].astype(np.int64)
    x = (images.reshape(len(images), 28 * 28) / 255.0).astype(np.float32)
    assert x.min() == 0.0 and x.max() == 1.0
    return (x[:TRAIN], labels[:TRAIN]), (x[TRAIN:], labels[TRAIN:])


def mlp(init, rng):
    layers = [Dense(16, init=init), ReLU(), Dense(16, init=init), ReLU(), Dense(10, init=init)]
    return Sequential(layers, input_shape=(784,), rng=rng)


def test_notebook_000_full_batch_sgd_learns(digits):
    (x, y), validation = digits
    rng = np.random.default_rng(0)
    trainer = Trainer(
        mlp("glorot_uniform", rng),
        SoftmaxCrossEntropy(),
        SGD(lr=0.1),
        epochs=60,
        batch_size=len(x),  # full batch: one step per epoch, as in the notebook
        metrics=[Accuracy()],
        rng=rng,
    )
    history = trainer.fit(x, y, validation_data=validation)
    assert trainer.global_step == 60
    assert history["loss"][0] > 2.2  # starts near chance, ln(10) = 2.30
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert all(b < a for a, b in zip(history["loss"], history["loss"][1:]))  # full-batch GD descends steadily
    assert history["val_accuracy"][-1] > 0.5  # chance is 0.1


def test_notebook_003_adam_minibatches_learn(digits):
    (x, y), validation = digits
    rng = np.random.default_rng(0)
    trainer = Trainer(
        mlp("he_normal", rng),
        SoftmaxCrossEntropy(),
        Adam(lr=0.01),
        epochs=3,
        batch_size=32,
        metrics=[Accuracy()],
        rng=rng,
    )
    history = trainer.fit(x, y, validation_data=validation)
    assert trainer.global_step == 3 * int(np.ceil(TRAIN / 32))
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] > 0.8
    test = trainer.test(*validation)
    assert test["test_accuracy"] == history["val_accuracy"][-1]
    assert test["confusion_matrix"].sum() == HELD_OUT


class SeenTargets(Metric):
    """Records every target row the training loop passes to the metrics, in order."""

    name = "seen"

    def __init__(self):
        super().__init__()
        self.epochs = []

    def reset(self):
        super().reset()
        if hasattr(self, "epochs"):
            self.epochs.append([])

    def update(self, pred, target):
        self.epochs[-1].extend(target[:, 0].tolist())
        self.count += 1


def test_minibatches_are_shuffled_without_replacement():
    """Each epoch visits every sample exactly once, in a new order (notebook 003 drew with replacement)."""
    rng = np.random.default_rng(0)
    ids = np.arange(50, dtype=np.float32)[:, None]
    seen = SeenTargets()
    model = Sequential([Dense(1)], input_shape=(1,), rng=rng)
    trainer = Trainer(model, MSE(), SGD(lr=1e-4), epochs=3, batch_size=8, metrics=[seen], rng=rng)
    trainer.fit(ids, ids)
    orders = [order for order in seen.epochs if order]
    assert len(orders) == 3
    for order in orders:
        assert sorted(order) == ids[:, 0].tolist()
    assert orders[0] != orders[1] != orders[2]
    assert orders[0] != ids[:, 0].tolist()
