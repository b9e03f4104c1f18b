"""Every built-in callback: a registry name, ``get_config`` giving back its constructor
arguments, and a readable repr."""

import inspect

import pytest

from framework.testing import check_config_round_trip
from framework.training.callback import Callback
from framework.training.callbacks import (
    CALLBACKS,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    NaNGuard,
    ProgressBar,
)
from framework.training.schedules import CosineWithWarmup
from tests.training.helpers import blobs, make_trainer

EXAMPLES = [
    EarlyStopping(monitor="val_accuracy", mode="max", patience=3, min_delta=0.01, restore_best_weights=True),
    ModelCheckpoint("runs/ckpt", every_n_epochs=2, save_best=True, monitor="val_loss", mode="min", keep_last=3),
    NaNGuard(),
    LearningRateScheduler(CosineWithWarmup(warmup_epochs=2, min_lr=1e-5)),
    ProgressBar(enabled=False),
]


@pytest.mark.parametrize("callback", EXAMPLES, ids=lambda c: c.name)
def test_config_round_trips_and_names_every_constructor_argument(callback):
    assert isinstance(callback, Callback)
    check_config_round_trip(callback)
    arguments = set(inspect.signature(type(callback).__init__).parameters) - {"self"}
    assert set(callback.get_config()) == arguments


def test_names_are_distinct_and_examples_cover_every_callback():
    assert sorted(cls.name for cls in CALLBACKS) == [
        "checkpoint",
        "early_stopping",
        "lr_scheduler",
        "nan_guard",
        "progress",
    ]
    assert {type(c) for c in EXAMPLES} == set(CALLBACKS)


def test_repr_shows_the_non_default_arguments():
    assert repr(EarlyStopping(patience=3)) == "EarlyStopping(patience=3)"
    assert repr(LearningRateScheduler(CosineWithWarmup(warmup_epochs=2))) == (
        "LearningRateScheduler(schedule=CosineWithWarmup(warmup_epochs=2.0))"
    )


def test_all_built_ins_train_together(tmp_path, capsys):
    x, y = blobs(30)
    callbacks = [
        EarlyStopping(patience=10, restore_best_weights=True),
        LearningRateScheduler(CosineWithWarmup(warmup_epochs=1)),
        NaNGuard(),
        ProgressBar(),
        ModelCheckpoint(tmp_path, save_best=True, keep_last=1),
    ]
    history = make_trainer(callbacks, epochs=3).fit(x, y, validation_data=blobs(10, seed=1))
    assert len(history) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "epoch-0003.npz", "last.npz"]
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_batches_per_epoch_is_known_once_fit_has_the_data():
    trainer = make_trainer(batch_size=8)
    with pytest.raises(AttributeError, match="once fit"):
        trainer.batches_per_epoch  # noqa: B018
    trainer.fit(*blobs(17))
    assert trainer.batches_per_epoch == 3
