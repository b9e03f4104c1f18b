"""Resuming is checked in one place: a checkpoint whose model, loss, dataset, optimizer,
dtype or completed epochs do not fit the config is refused in one line naming what
differs, before the data loads wherever that is possible."""

import pytest

from framework.command import train
from framework.core.errors import ConfigError
from framework.data.base import Dataset

TINY = ["trainer.batch_size=256", "callbacks.progress=null"]


@pytest.fixture
def checkpoint(compose_config, tmp_path_factory):
    directory = tmp_path_factory.mktemp("first")
    cfg = compose_config(*TINY, "trainer.epochs=2", f"callbacks.checkpoint.directory={directory}")
    train(cfg, log=lambda *_: None)
    return directory / "last.npz"


@pytest.fixture
def data_loads(monkeypatch):
    """Records whether a run got as far as loading its data."""
    loaded = []
    original = Dataset.load

    def spy(self, *args, **kwargs):
        loaded.append(True)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Dataset, "load", spy)
    return loaded


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["loss=mse"],
            "the checkpoint was trained with loss=softmax_cross_entropy, this run has loss=mse; resume with",
        ),
        (["data=spirals"], "the checkpoint was trained with data=digits, this run has data=spirals; resume with data="),
        (["optimizer=sgd"], "trained with optimizer=adam, this run has optimizer=sgd; its state cannot carry over"),
        (["model.dtype=float64"], "the checkpoint holds float32 weights, this run has model.dtype=float64"),
        (["trainer.epochs=1"], "the checkpoint has already completed 2 epochs, more than trainer.epochs=1"),
    ],
    ids=["loss", "dataset", "optimizer", "dtype", "epochs"],
)
def test_a_mismatch_is_refused_before_the_data_loads(overrides, message, checkpoint, compose_config, data_loads):
    cfg = compose_config(*TINY, "trainer.epochs=3", *overrides, f"trainer.resume={checkpoint}")
    with pytest.raises(ConfigError) as caught:
        train(cfg, log=lambda *_: None)
    assert str(caught.value).startswith("trainer.resume")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not data_loads


def test_a_model_of_another_shape_is_refused_before_epoch_one(checkpoint, compose_config, tmp_path):
    cfg = compose_config(*TINY, "trainer.epochs=3", "model.hidden=[16]", f"trainer.resume={checkpoint}")
    written = (tmp_path / "weights.npz").stat().st_mtime_ns  # by the run that wrote the checkpoint
    with pytest.raises(ConfigError, match=r"does not fit this model .*it was trained with model.hidden=\[64, 32\]"):
        train(cfg, log=lambda *_: None)
    assert (tmp_path / "weights.npz").stat().st_mtime_ns == written


def test_a_fitting_resume_continues_the_history(checkpoint, compose_config):
    result = train(compose_config(*TINY, "trainer.epochs=3", f"trainer.resume={checkpoint}"), log=lambda *_: None)
    assert [record["epoch"] for record in result.history.epochs] == [1, 2, 3]
    assert result.trainer.run.resume_from.path == checkpoint
