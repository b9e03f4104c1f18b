"""One run, one recipe: the run description reaches callbacks, components are asked
(never looked up by name), what needs no data is refused before it loads, and what a
run trained is written even when an error ends it."""

import numpy as np
import pytest

from framework import hookimpl
from framework.command import train
from framework.core.errors import ConfigError, FrameworkError
from framework.plugins import build_plugins
from framework.training.callback import Callback
from framework.training.run import ComponentOrigin, Run

TINY = ["trainer.epochs=1", "trainer.batch_size=256", "callbacks.progress=null"]


class RunRecorder(Callback):
    """A plugin's callback that writes into the run's own directory, found through ``run``."""

    name = "run_recorder"
    seen: list = []

    def framework_fit_start(self, trainer, run):
        RunRecorder.seen.append((run, trainer.run))
        (run.output_dir / "recorder.txt").write_text(run.name or "")


class WritesElsewhere(Callback):
    name = "writes_elsewhere"

    def __init__(self, directory: str = "/"):
        self.directory = directory

    def output_dirs(self):
        return {"directory": self.directory}


class BrokenAfterOneEpoch(Callback):
    name = "broken_after_one_epoch"

    def framework_epoch_end(self, trainer, epoch, logs):
        raise RuntimeError("a bug in a callback")


class RecorderPlugin:
    @hookimpl
    def framework_register_callbacks(self):
        return [RunRecorder, WritesElsewhere, BrokenAfterOneEpoch]


@pytest.fixture
def plugins():
    return build_plugins(autoload=False, extra=[RecorderPlugin()])


def test_the_run_description_reaches_a_plugin_callback(compose_config, plugins, tmp_path):
    RunRecorder.seen.clear()
    cfg = compose_config(*TINY, "+callbacks.run_recorder={}")
    result = train(cfg, plugins=plugins, log=lambda *_: None)
    (run, trainers_run), *_ = RunRecorder.seen
    assert run is trainers_run and isinstance(run, Run)
    assert run.output_dir == tmp_path and (tmp_path / "recorder.txt").exists()
    assert run.config["trainer"]["epochs"] == 1 and not run.resumes
    recorder = run.components["callbacks.run_recorder"]
    assert isinstance(recorder, ComponentOrigin) and (recorder.kind, recorder.name) == ("callback", "run_recorder")
    assert recorder.distribution == "registered in code"
    assert run.components["optimizer"].name == "adam" and run.components["optimizer"].distribution == "framework"
    assert result.output_dir == tmp_path


def test_a_monitor_typo_is_refused_before_the_data_loads_an_epoch(compose_config, tmp_path):
    with pytest.raises(ConfigError, match=r"trainer.monitor='val_acuracy': not a value this run logs; choose one of"):
        train(compose_config(*TINY, "trainer.monitor=val_acuracy"), log=lambda *_: None)
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "weights.npz").exists()


def test_a_null_monitor_is_refused_in_one_line(compose_config):
    with pytest.raises(ConfigError, match=r"^trainer.monitor=None: name a logged value"):
        train(compose_config(*TINY, "trainer.monitor=null"), log=lambda *_: None)


def test_a_callbacks_monitor_typo_names_its_key(compose_config):
    with pytest.raises(ConfigError, match=r"^callbacks.early_stopping.monitor='val_los'"):
        train(compose_config(*TINY, "+callbacks.early_stopping={monitor: val_los}"), log=lambda *_: None)


def test_a_schedules_monitor_is_checked_too(compose_config):
    with pytest.raises(ConfigError, match=r"^schedule.monitor='vall_loss'"):
        train(compose_config(*TINY, "schedule=reduce_on_plateau", "schedule.monitor=vall_loss"), log=lambda *_: None)


def test_directories_a_plugin_component_writes_are_checked_before_the_data(compose_config, plugins, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cfg = compose_config(*TINY, f"+callbacks.writes_elsewhere={{directory: {blocker}/sub}}")
    with pytest.raises(ConfigError, match=r"^callbacks.writes_elsewhere.directory="):
        train(cfg, plugins=plugins, log=lambda *_: None)


def test_once_training_began_weights_and_history_are_written_before_the_error(compose_config, plugins, tmp_path):
    cfg = compose_config(*TINY, "trainer.epochs=3", "+callbacks.broken_after_one_epoch={}")
    with pytest.raises(RuntimeError, match="a bug in a callback"):
        train(cfg, plugins=plugins, log=lambda *_: None)
    weights = np.load(tmp_path / "weights.npz")
    assert len(weights.files) > 0
    assert np.load(tmp_path / "history.npz")["loss"].shape == (1,)


def test_a_loss_says_how_many_outputs_it_needs(compose_config, plugins):
    """binary_cross_entropy answers through ``output_units``: one logit for two classes."""
    result = train(compose_config(*TINY, "data=xor", "loss=binary_cross_entropy"), log=lambda *_: None)
    assert result.trainer.model.output_shape == (1,)
    with pytest.raises(FrameworkError, match="loss=binary_cross_entropy needs 2 classes, data 'digits' has 10"):
        train(compose_config(*TINY, "loss=binary_cross_entropy"), log=lambda *_: None)


def test_an_activation_chooses_the_initializer_of_the_weights_before_it(compose_config):
    relu = train(compose_config(*TINY, "model.activation=relu"), log=lambda *_: None).trainer.model
    tanh = train(compose_config(*TINY, "model.activation=tanh"), log=lambda *_: None).trainer.model
    assert relu.layers[0].init.name == "he_normal"
    assert tanh.layers[0].init.name == "glorot_uniform"
