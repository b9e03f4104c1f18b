"""The installed example plugin in a real (tiny) training run, everything selected by
registry name as a config would: skipped when framework-extras is not installed."""

import numpy as np
import pytest

pytest.importorskip("framework_extras")

import framework as fw
from framework.plugins import build_plugins
from framework.training.trainer import Trainer


def test_train_moons_with_swish_lion_and_timer(capsys):
    plugins = build_plugins()
    rng = np.random.default_rng(0)
    splits = plugins.get("dataset", "moons")(n_samples=300, noise=0.1).load(rng)
    swish = plugins.get("layer", "swish")
    model = fw.Sequential(
        [fw.Dense(16), swish(beta=1.0), fw.Dense(16), swish(beta=1.0), fw.Dense(2)],
        input_shape=splits.input_shape,
        rng=rng,
    )
    trainer = Trainer(
        model,
        plugins.get("loss", "softmax_cross_entropy")(),
        plugins.get("optimizer", "lion")(lr=0.01),
        epochs=30,
        batch_size=32,
        metrics=[plugins.get("metric", "accuracy")()],
        callbacks=[plugins.get("callback", "timer")(verbose=True)],
        rng=rng,
        plugins=plugins,
    )
    history = trainer.fit(splits.x_train, splits.y_train, validation_data=(splits.x_val, splits.y_val))

    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.9
    assert all(t >= 0 for t in history["time_per_batch"])
    assert history["time_elapsed"] == sorted(history["time_elapsed"])
    assert capsys.readouterr().out.count("timer: 30 epochs in ") == 1


def test_selected_from_the_command_line_configs(tmp_path, capsys):
    """The plugin's config groups join the project's: composed like the command does."""
    from hydra import compose, initialize_config_dir

    from framework.command import train
    from framework.command.paths import conf_dir

    overrides = [
        f"output_dir={tmp_path}",
        "logger=none",  # never a store in the checkout the tests run from
        "optimizer=lion",
        "optimizer.lr=0.01",
        "data=moons",
        "data.n_samples=200",
        "model.activation=swish",
        "+callbacks.timer={verbose: false}",
        "callbacks.progress=null",
        "trainer.epochs=2",
    ]
    with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
        cfg = compose("config", overrides=overrides)
    # The plugin's own files name its own classes: qualified as they are read.
    assert cfg.optimizer == {"name": "extras:lion", "lr": 0.01, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0}
    assert cfg.data.name == "extras:moons" and cfg.data.dtype == cfg.model.dtype

    result = train(cfg, log=lambda *_: None)
    assert result.trainer.optimizer.name == "lion"
    assert "swish" in [layer.name for layer in result.trainer.model.layers]
    assert len(result.history["time_per_batch"]) == 2
