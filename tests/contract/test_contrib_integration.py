"""The second example plugin in a real (tiny) run composed like the command does: its
layer, optimizer, callback and metric selected by registry name, the callback's file
in the run's directory. Skipped when framework-contrib is not installed."""

import csv

import pytest

pytest.importorskip("framework_contrib")

from framework.command import train


def test_every_contrib_component_from_the_command_line(compose_config, tmp_path):
    cfg = compose_config(
        "data=xor",
        "data.n_samples=200",
        "model=sequential",
        "model.layers=[{name: dense, units: 16}, {name: layer_norm}, {name: relu}, {name: dense, units: 2}]",
        "optimizer=adagrad",
        "optimizer.lr=0.1",
        "+callbacks.csv_logger={filename: log.csv}",
        "callbacks.progress=null",
        "trainer.epochs=3",
        "trainer.metrics=[accuracy,macro_f1]",
        "trainer.monitor=val_macro_f1",
    )
    lines = []
    result = train(cfg, log=lines.append)
    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert float(rows[-1]["val_macro_f1"]) == result.value == result.history["val_macro_f1"][-1]
    assert result.trainer.run.components["optimizer"].distribution == "framework-contrib"
    assert f"csv_logger: epochs in {tmp_path / 'log.csv'}" in lines
