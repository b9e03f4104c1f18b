"""Small data, models and recording callbacks shared by the training tests (and the
scripts the signal tests run in a subprocess)."""

import numpy as np

from framework.core import Accuracy, Adam, Dense, Dropout, ReLU, Sequential, SoftmaxCrossEntropy
from framework.training.callback import Callback
from framework.training.trainer import Trainer


def blobs(n: int = 64, features: int = 4, classes: int = 3, seed: int = 0, spread: float = 1.5):
    """Gaussian clusters: float32 inputs, int64 labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, features)) * spread
    y = rng.integers(0, classes, size=n)
    x = centers[y] + rng.normal(size=(n, features))
    return x.astype(np.float32), y.astype(np.int64)


def make_trainer(callbacks=(), *, seed=0, epochs=2, batch_size=10, optimizer=None, dropout=0.0, **kwargs):
    """A 4-8-3 classifier (optionally with dropout) whose model and trainer share one generator."""
    rng = np.random.default_rng(seed)
    layers = [Dense(8), ReLU(), *([Dropout(dropout)] if dropout else []), Dense(3)]
    model = Sequential(layers, input_shape=(4,), rng=rng)
    kwargs.setdefault("metrics", [Accuracy()])
    return Trainer(
        model,
        SoftmaxCrossEntropy(),
        optimizer if optimizer is not None else Adam(lr=0.01),
        epochs=epochs,
        batch_size=batch_size,
        callbacks=list(callbacks),
        rng=rng,
        **kwargs,
    )


def weights(trainer) -> dict[str, np.ndarray]:
    return trainer.model.state_dict()


def assert_same_weights(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert np.array_equal(first[key], second[key]), f"{key} differs"


def without_seconds(history) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history.epochs]


class Recorder(Callback):
    """Appends ``(tag, hook, epoch, batch)`` to ``calls`` for every lifecycle hook call."""

    name = "recorder"

    def __init__(self, calls: list | None = None, tag: str = "recorder"):
        self.calls = [] if calls is None else calls
        self.tag = self.name = tag
        self.errors = []

    def _add(self, hook, epoch=None, batch=None):
        self.calls.append((self.tag, hook, epoch, batch))

    def framework_fit_start(self, trainer):
        self._add("fit_start")

    def framework_epoch_start(self, trainer, epoch):
        self._add("epoch_start", epoch)

    def framework_batch_start(self, trainer, epoch, batch):
        self._add("batch_start", epoch, batch)

    def framework_batch_end(self, trainer, epoch, batch, loss):
        self._add("batch_end", epoch, batch)

    def framework_validation_end(self, trainer, epoch, metrics):
        self._add("validation_end", epoch)

    def framework_epoch_end(self, trainer, epoch, logs):
        self._add("epoch_end", epoch)

    def framework_fit_end(self, trainer, history):
        self._add("fit_end")

    def framework_exception(self, trainer, error):
        self.errors.append(error)
        self._add("exception")


class RaiseAt(Callback):
    """Raises ``error`` at ``hook`` (``"batch_end"`` or ``"epoch_start"``) of ``epoch``/``batch``."""

    name = "raise_at"

    def __init__(self, error: BaseException, epoch: int, batch: int | None = None, hook: str = "batch_end"):
        self.error, self.epoch, self.batch, self.hook = error, epoch, batch, hook

    def framework_epoch_start(self, trainer, epoch):
        if self.hook == "epoch_start" and epoch == self.epoch:
            raise self.error

    def framework_batch_end(self, trainer, epoch, batch):
        if self.hook == "batch_end" and (epoch, batch) == (self.epoch, self.batch):
            raise self.error


class Inject(Callback):
    """Puts scripted values into each epoch's logs (``values[key][epoch - 1]``), so a
    monitoring callback listed after it sees exactly the sequence a test wants."""

    name = "inject"

    def __init__(self, **values: list[float]):
        self.values = values

    def framework_epoch_end(self, trainer, epoch, logs):
        for key, sequence in self.values.items():
            logs[key] = sequence[epoch - 1]


class EpochWeights(Callback):
    """Copies the model's weights at the end of every epoch: ``snapshots[epoch]``."""

    name = "epoch_weights"

    def __init__(self):
        self.snapshots = {}

    def framework_epoch_end(self, trainer, epoch):
        self.snapshots[epoch] = trainer.model.state_dict()


class LearningRates(Callback):
    """Records the optimizer's learning rate used for each batch: ``rates[(epoch, batch)]``."""

    name = "learning_rates"

    def __init__(self):
        self.rates = {}

    def framework_batch_end(self, trainer, epoch, batch):
        self.rates[(epoch, batch)] = trainer.optimizer.lr
