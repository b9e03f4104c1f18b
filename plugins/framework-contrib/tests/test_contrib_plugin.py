"""The package through its entry point: found, its config file runs, and a run with all
four components writes its CSV and resumes a mid-epoch checkpoint exactly."""

import numpy as np
import pytest
from framework_contrib import Adagrad, CsvLogger, LayerNorm, MacroF1
from framework_contrib.plugin import CONFIG_DIR

import framework as fw
from framework import SoftmaxCrossEntropy, Trainer
from framework.plugins import build_plugins
from framework.testing import check_config_files
from framework.training.callbacks import ModelCheckpoint


@pytest.mark.parametrize(
    ("kind", "name"),
    [("layer", "layer_norm"), ("optimizer", "adagrad"), ("callback", "csv_logger"), ("metric", "macro_f1")],
)
def test_registered_through_the_entry_point(kind, name):
    origin = build_plugins().registry(kind).origin(name)
    assert (origin.plugin, origin.distribution) == ("contrib", "framework-contrib")


def test_config_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_config_files(CONFIG_DIR, "data=xor", "data.n_samples=64") == ["optimizer=adagrad"]


class StopAt(fw.Callback):
    name = "stop_at"

    def framework_batch_end(self, epoch, batch):
        if (epoch, batch) == (2, 1):
            raise KeyboardInterrupt


def fit(output_dir, callbacks, resume_from=None):
    from framework.training.run import Run

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4))
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    model = fw.Sequential(
        [fw.Dense(8), LayerNorm(), fw.ReLU(), fw.Dense(3)], input_shape=(4,), rng=rng, dtype="float64"
    )
    trainer = Trainer(
        model, SoftmaxCrossEntropy(), Adagrad(lr=0.1), epochs=3, batch_size=16, metrics=[MacroF1()],
        callbacks=[CsvLogger(), *callbacks], rng=rng, run=Run(output_dir=output_dir),
    )  # fmt: skip
    return trainer.fit(x[:64], y[:64], validation_data=(x[64:], y[64:]), resume_from=resume_from)


def test_a_run_with_every_component_resumes_exactly(tmp_path):
    for run_dir in ("straight", "resumed"):
        (tmp_path / run_dir).mkdir()
    straight = fit(tmp_path / "straight", [])
    checkpoints = tmp_path / "resumed" / "checkpoints"
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "resumed", [StopAt(), ModelCheckpoint(directory=checkpoints)])
    resumed = fit(tmp_path / "resumed", [ModelCheckpoint(directory=checkpoints)], checkpoints / "last.npz")
    for name in ("loss", "macro_f1", "val_macro_f1"):
        assert resumed[name] == straight[name]
    header, *rows = (tmp_path / "resumed" / "epochs.csv").read_text().splitlines()
    assert header.split(",")[:3] == ["epoch", "loss", "macro_f1"] and len(rows) == 3
