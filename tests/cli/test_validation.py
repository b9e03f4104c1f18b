"""Bad config values fail before training with one message naming the config path,
the bad value and what is accepted."""

import pytest

from framework.command import train
from framework.core.errors import FrameworkError
from tests.commands import run_command

CASES = [
    (["optimizer.lr=abc"], "optimizer.lr='abc': lr must be a finite number, got 'abc'"),
    (["optimizer.lr=-0.1"], r"optimizer.lr=-0.1: lr must be in (0, inf], got -0.1"),
    (["optimizer=adam", "optimizer.beta1=1.5"], "optimizer.beta1=1.5: beta1 must be in [0, 1), got 1.5"),
    (["trainer.epochs=-1"], "trainer.epochs=-1: epochs must be a positive integer, got -1"),
    (["trainer.batch_size=0"], "trainer.batch_size=0: batch_size must be a positive integer, got 0"),
    (["trainer.grad_clip_norm=0"], "trainer.grad_clip_norm=0: grad_clip_norm must be in (0, inf]"),
    (["loss.name=msee"], "loss.name='msee': Unknown loss 'msee'. Did you mean 'mse'?"),
    (["data.name=digts"], "data.name='digts': Unknown dataset 'digts'. Did you mean 'digits'?"),
    (["model.activation=rellu"], "model.activation='rellu': Unknown layer 'rellu'. Did you mean 'relu'?"),
    (
        ["model=sequential", "model.layers.0.name=dnse"],
        "model.layers[0].name='dnse': Unknown layer 'dnse'. Did you mean 'dense'?",
    ),
    (
        ["model=sequential", "model.layers.2.units=5"],
        "model.layers[2]: the model ends with output shape (5,) but data 'digits'",
    ),
    (["model.hidden=[64,-3]"], "model.hidden=[64, -3]: expected a list of positive layer widths"),
    (
        ["model.init=he_nromal"],
        "model.init='he_nromal': Unknown initializer 'he_nromal'. Did you mean 'he_normal'?",
    ),
    (["model.dtype=float16"], "model.dtype='float16': dtype must be float32 or float64, got float16"),
    (["data.val_fraction=1.5"], "data.val_fraction=1.5: val_fraction must be in [0, 1), got 1.5"),
    (["data.val_fraction=0"], "trainer.monitor='val_loss': data.val_fraction=0 leaves no validation split"),
    (
        ["trainer.metrics=[accuracy,mae]"],
        "trainer.metrics[1]='mae': a regression metric, but the data is classification",
    ),
    (
        ["trainer.metrics=[acuracy]"],
        "trainer.metrics[0]='acuracy': Unknown metric 'acuracy'. Did you mean 'accuracy'?",
    ),
    (["loss=binary_cross_entropy"], "loss=binary_cross_entropy needs 2 classes, data 'digits' has 10"),
    (["loss=cross_entropy"], "loss=cross_entropy: takes probabilities, but model.output is a linear dense layer"),
    (["schedule=step", "schedule.gamma=2"], "schedule.gamma=2: gamma must be in (0, 1]"),
    (["seed=-1"], "seed=-1: expected a non-negative integer"),
    (["data=mnist", "data.path=/nonexistent/mnist", "data.download=false"], "train-images-idx3-ubyte"),
    (["trainer.threads=0"], "trainer.threads=0: expected a positive number of BLAS threads"),
]


@pytest.mark.parametrize(("overrides", "message"), CASES, ids=[" ".join(o) for o, _ in CASES])
def test_bad_values_fail_before_training_naming_path_value_and_rule(overrides, message, compose_config, tmp_path):
    with pytest.raises(FrameworkError) as caught:
        train(compose_config(*overrides), log=lambda *_: None)
    assert message in str(caught.value)
    assert not (tmp_path / "checkpoints").exists(), "no epoch may run before the config is known to be good"


def test_the_command_prints_one_line_without_traceback_and_exits_2(tmp_path):
    result = run_command("optimizer.lr=abc", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: optimizer.lr='abc': lr must be a finite number, got 'abc'"
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unknown_group_option_lists_the_available_ones(tmp_path):
    result = run_command("optimizer=adm", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: optimizer=adm: the config group 'optimizer' has no option 'adm'; choose one of: "
    )
    assert {"adam", "adamw", "rmsprop", "sgd"} <= set(result.stderr.strip().split(": ")[-1].split(", "))
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimizer=sgd", "optimizer.momentum=0.9", "optimizer.nesterov=no"], "optimizer.nesterov='no': nesterov must be true or false, got 'no'"),
        (["optimizer=rmsprop", "optimizer.centered=off"], "optimizer.centered='off': centered must be true or false, got 'off'"),
        (["data=regression_curve", "loss=mse", "loss.half=no"], "loss.half='no': half must be true or false, got 'no'"),
        (["model=sequential", "+model.layers.0.use_bias=no"], "model.layers[0].use_bias='no': use_bias must be true or false"),
    ],
    ids=["nesterov", "centered", "half", "use_bias"],
)  # fmt: skip
def test_a_boolean_written_as_a_word_is_refused_not_read_as_true(overrides, message, compose_config):
    """``bool('no')`` is True: a switch written ``no`` or ``off`` once switched the option on."""
    with pytest.raises(FrameworkError) as caught:
        train(compose_config(*overrides, "trainer.epochs=1"), log=lambda *_: None)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.output_activation=softmax"], "loss=softmax_cross_entropy: applies its softmax or sigmoid itself, but model.output_activation is a softmax layer"),
        (["data=xor", "loss=binary_cross_entropy", "model.output_activation=sigmoid"], "loss=binary_cross_entropy: applies its softmax or sigmoid itself, but model.output_activation is a sigmoid layer"),
    ],
    ids=["softmax-twice", "sigmoid-twice"],
)  # fmt: skip
def test_a_loss_that_takes_logits_after_a_probability_layer_is_refused(overrides, message, compose_config):
    with pytest.raises(FrameworkError) as caught:
        train(compose_config(*overrides, "trainer.epochs=1"), log=lambda *_: None)
    assert message in str(caught.value)


def test_labels_of_a_single_class_are_refused_before_epoch_one(compose_config, tmp_path):
    import numpy as np

    path = tmp_path / "one-class.npz"
    np.savez(path, x=np.arange(40.0).reshape(20, 2), y=np.full(20, 3))
    with pytest.raises(FrameworkError, match=r"^data=npz: every training label is class 3, so there is nothing"):
        train(compose_config("data=npz", f"data.path={path}", "data.num_classes=4"), log=lambda *_: None)
    assert not (tmp_path / "checkpoints").exists()


def test_a_model_too_large_for_the_machine_is_refused_before_allocating(compose_config):
    with pytest.raises(
        FrameworkError,
        match=r"^model.hidden=\[1000000000\]: .*75,000,000,016 parameters with their gradients needs 559 GiB",
    ):
        train(compose_config("model.hidden=[1000000000]"), log=lambda *_: None)


def test_a_batch_larger_than_the_data_is_one_batch_of_the_data(compose_config):
    result = train(compose_config("trainer.batch_size=1000000000000", "trainer.epochs=1"), log=lambda *_: None)
    assert result.trainer.batches_per_epoch == 1
