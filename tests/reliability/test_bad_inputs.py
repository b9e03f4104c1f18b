"""Case 8: bad inputs across the command line, configs, data files, checkpoints and
plugins. Each one stops the command with exit status 2 and exactly one line on stderr,
``error: ...``, that names the problem and the fix; never a traceback.

``BAD_INPUTS`` is the table. Every row runs through the command's entry point
(``framework.train.main``, Hydra included) in this process, which is fast; a sample of
rows, one or more per kind, also runs as ``python -m framework.train`` in a subprocess,
to check that what a user's terminal shows is the same single line.

Each row lists the substrings its line must hold: first what is wrong (the config key or
file, and the value), then what to do."""

import contextlib
import hashlib
import json
import os
import sqlite3
import sys
import textwrap
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from framework.command.run_dir import read_status
from framework.core.npz import load_npz
from framework.plugins import default_plugins

from .conftest import command, error_line, install

SMALL = ["data=blobs", "trainer.epochs=1", "callbacks.progress=null"]
QUIET = ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]


@dataclass(frozen=True)
class Bad:
    id: str
    kind: str  # command line, config, data file, checkpoint, plugin
    args: tuple[str, ...]
    expect: tuple[str, ...]
    env: dict = field(default_factory=dict)
    plugin: dict | None = None  # a fake installed distribution: make_distribution(**plugin)
    absent: tuple[str, ...] = ()  # never in the line (a password)
    traceback: bool = False  # the traceback the user asked for (HYDRA_FULL_ERROR=1) comes first

    def argv(self, files: Path) -> list[str]:
        args = [arg.replace("{files}", str(files)) for arg in self.args]
        flags = [arg for arg in args if arg.startswith("--")]
        return [*flags, *SMALL, *[arg for arg in args if not arg.startswith("--")]]


BROKEN_IMPORT = "import missing_dependency_of_the_plugin\n"
DUPLICATE_NAME = """
from framework import hookimpl
from framework.core.optimizers import SGD

class MyAdam(SGD):
    name = "adam"

class OtherAdam(SGD):
    name = "adam"

@hookimpl
def framework_register_optimizers():
    return [MyAdam, OtherAdam]
"""
RAISING_REGISTRATION = """
from framework import hookimpl

@hookimpl
def framework_register_losses():
    raise ValueError("the loss table is corrupt")
"""
MISSPELLED_HOOK = """
from framework import hookimpl
from framework.core.optimizers import SGD

class Sgd2(SGD):
    name = "sgd2"

@hookimpl
def framework_register_optimisers():
    return [Sgd2]
"""
BLOCK_EXTRAS = {"FRAMEWORK_DISABLE_PLUGINS": "extras"}

MISSING_CONFIG_DIR = """
from framework import hookimpl

@hookimpl
def framework_config_dirs():
    return ["/nonexistent/framework-conf"]
"""
CONFIG_DIR_A_FILE = """
from framework import hookimpl

@hookimpl
def framework_config_dirs():
    return [__file__]
"""
REGISTERS_A_STRING = """
from framework import hookimpl

@hookimpl
def framework_register_layers():
    return "dense"
"""
REGISTERS_AN_INSTANCE = """
from framework import hookimpl
from framework.core.activations import ReLU

class MyReLU(ReLU):
    name = "my_relu"

@hookimpl
def framework_register_layers():
    return [MyReLU()]
"""
REGISTERS_A_NAMELESS_CLASS = """
from framework import hookimpl
from framework.core.layer import Layer

class Nameless(Layer):
    pass

@hookimpl
def framework_register_layers():
    return [Nameless]
"""
HOOK_NAME_CONSTANT = """
framework_settings = {"verbose": True}
"""
#: A plugin whose every component has a bug (not a FrameworkError) in the method named.
BUGGY_SOURCE = """
from framework import hookimpl
from framework.core.activations import Identity
from framework.core.initializers import GlorotUniform
from framework.core.losses import SoftmaxCrossEntropy
from framework.core.metrics import Accuracy
from framework.core.optimizers import SGD
from framework.data.synthetic import Blobs
from framework.training.callback import Callback
from framework.training.schedules import Schedule

class BrokenLayer(Identity):
    name = "broken_layer"
    def forward(self, x, training=False):
        return x * (1 // 0)

class BrokenBackward(Identity):
    name = "broken_backward"
    def backward(self, grad):
        return [grad][1]

class BrokenConstructor(Identity):
    name = "broken_constructor"
    def __init__(self):
        super().__init__()
        self.settings = {}["width"]

class BrokenOptimizer(SGD):
    name = "broken_optimizer"
    def update(self, w, grad, state):
        w -= self.lr * grad / 0.0 if False else 1 / 0

class BrokenDataset(Blobs):
    name = "broken_dataset"
    def raw(self, rng):
        return {}["x_train"]

class BrokenLoss(SoftmaxCrossEntropy):
    name = "broken_loss"
    def forward(self, pred, target):
        raise FloatingPointError("overflow in exp")

class BrokenMetric(Accuracy):
    name = "broken_metric"
    def update(self, pred, target):
        self.total.append(1)

class BrokenSchedule(Schedule):
    name = "broken_schedule"
    def value(self, epoch, base_lr, total_epochs):
        return base_lr / (epoch - epoch)

class BrokenInitializer(GlorotUniform):
    name = "broken_initializer"
    def __call__(self, shape, rng, dtype):
        raise NotImplementedError("fan-in of a 1-d shape")

class BrokenCallback(Callback):
    name = "broken_callback"
    def __init__(self):
        raise RuntimeError("the dashboard token is not set")

@hookimpl
def framework_register_layers():
    return [BrokenLayer, BrokenBackward, BrokenConstructor]

@hookimpl
def framework_register_optimizers():
    return [BrokenOptimizer]

@hookimpl
def framework_register_datasets():
    return [BrokenDataset]

@hookimpl
def framework_register_losses():
    return [BrokenLoss]

@hookimpl
def framework_register_metrics():
    return [BrokenMetric]

@hookimpl
def framework_register_schedules():
    return [BrokenSchedule]

@hookimpl
def framework_register_initializers():
    return [BrokenInitializer]

@hookimpl
def framework_register_callbacks():
    return [BrokenCallback]
"""
BUGGY = {"source": BUGGY_SOURCE, "entry_point": "buggy", "name": "buggy-dist", "version": "1.2.3"}


def _between(layer: str) -> tuple[str, str]:
    return ("model=sequential", f"model.layers=[{{name: dense, units: 4}}, {layer}, {{name: dense, units: 3}}]")


#: (row id, overrides, how the line names the component, the exception it raised)
PLUGIN_BUGS = [
    ("layer-forward", _between("broken_layer"), "layer 'broken_layer'", "ZeroDivisionError"),
    ("layer-backward", _between("broken_backward"), "layer 'broken_backward'", "IndexError"),
    ("layer-constructor", _between("broken_constructor"), "layer 'broken_constructor'", "KeyError: 'width'"),
    (
        "optimizer",
        ("optimizer=sgd", "optimizer.name=broken_optimizer"),
        "optimizer 'broken_optimizer'",
        "ZeroDivisionError",
    ),
    ("dataset", ("data.name=broken_dataset",), "dataset 'broken_dataset'", "KeyError: 'x_train'"),
    ("loss", ("loss.name=broken_loss",), "loss 'broken_loss'", "FloatingPointError: overflow in exp"),
    ("metric", ("trainer.metrics=[broken_metric]",), "metric 'broken_metric'", "AttributeError"),
    ("schedule", ("schedule.name=broken_schedule",), "schedule 'broken_schedule'", "ZeroDivisionError"),
    ("initializer", ("model.init=broken_initializer",), "initializer 'broken_initializer'", "NotImplementedError"),
    ("callback-constructor", ("+callbacks.broken_callback={}",), "callback 'broken_callback'", "RuntimeError"),
]

BAD_INPUTS = [
    # -- the command line: types, ranges, unknown names and keys, group options, syntax ------
    Bad("lr-not-a-number", "value", ("optimizer.lr=abc",), ("optimizer.lr='abc'", "lr must be a finite number")),
    Bad("lr-negative", "value", ("optimizer.lr=-0.1",), ("optimizer.lr=-0.1", "lr must be in (0, inf]")),
    Bad(
        "epochs-not-int",
        "value",
        ("trainer.epochs=abc",),
        ("trainer.epochs='abc'", "must be a positive integer"),
    ),
    Bad("batch-size-zero", "value", ("trainer.batch_size=0",), ("trainer.batch_size=0", "must be a positive")),
    Bad("seed-negative", "value", ("seed=-1",), ("seed=-1", "expected a non-negative integer")),
    Bad("val-fraction-out-of-range", "value", ("data.val_fraction=1.5",), ("data.val_fraction=1.5", "[0, 1)")),
    Bad(
        "guard-factor-out-of-range",
        "value",
        ("callbacks.nan_guard.max_loss_factor=0.5",),
        ("callbacks.nan_guard.max_loss_factor=0.5", "must be in (1, inf]"),
    ),
    Bad(
        "logger-flush-negative",
        "value",
        ("logger=mlflow", "logger.flush_every_seconds=-1"),
        ("logger.flush_every_seconds=-1", "must be in [0, inf]"),
    ),
    Bad(
        "unknown-loss",
        "unknown key",
        ("loss.name=msee",),
        ("loss.name='msee': Unknown loss 'msee'", "Did you mean 'mse'?"),
    ),
    Bad(
        "unknown-callback",
        "unknown key",
        ("+callbacks.nosuch={}",),
        ("callbacks.nosuch.name='nosuch': Unknown callback 'nosuch'", "Available: checkpoint"),
    ),
    Bad(
        "unknown-argument",
        "unknown key",
        ("+optimizer.foo=1",),
        ("optimizer.foo: Adam (adam) takes no argument 'foo'", "it takes: lr, beta1"),
    ),
    Bad("unknown-key", "unknown key", ("optimizer.foo=1",), ("optimizer.foo: no such config key", "+optimizer.foo=")),
    Bad(
        "misspelled-key",
        "unknown key",
        ("trainer.epoch=3",),
        ("trainer.epoch: no such config key", "did you mean trainer.epochs?"),
    ),
    Bad(
        "misspelled-section",
        "unknown key",
        ("trainr.epochs=3",),
        ("trainr.epochs: no such", "did you mean trainer.epochs?"),
    ),
    Bad(
        "misspelled-new-section",
        "unknown key",
        ("+trainr.epochs=3",),
        ("trainr: no such config section, so its values would be ignored", "did you mean trainer?"),
    ),
    Bad(
        "name-given-a-list",
        "wrong type or encoding",
        ("optimizer.name=[adam,sgd]",),
        ("optimizer.name=['adam', 'sgd']: expected one optimizer name", "available: "),
    ),
    Bad(
        "name-given-null",
        "wrong type or encoding",
        ("loss.name=null",),
        ("loss.name=None: expected one loss name", "available: "),
    ),
    Bad(
        "unknown-group-option",
        "unknown key",
        ("optimizer=adm",),
        ("optimizer=adm: the config group 'optimizer' has no option 'adm'", "choose one of: ", "adam, adamw"),
    ),
    Bad(
        "unknown-experiment",
        "unknown key",
        ("+experiment=nosuch",),
        ("experiment=nosuch: the config group 'experiment' has no option 'nosuch'", "choose one of: blobs"),
    ),
    Bad(
        "malformed-override",
        "value",
        ("optimizer.lr=[1,2",),
        ("cannot parse the override 'optimizer.lr=[1,2'", "close every bracket"),
    ),
    Bad(
        "group-given-a-number",
        "value",
        ("trainer=5",),
        ("Config group override must be a string or a list. Got int", "check the overrides"),
    ),
    Bad(
        "bad-interpolation",
        "value",
        ("optimizer.lr=${oops}",),
        ("optimizer.lr: Interpolation key 'oops' not found", "fix the ${...} interpolation"),
    ),
    Bad(
        "monitor-without-validation",
        "together",
        ("data.val_fraction=0",),
        ("data.val_fraction=0 leaves no validation split", "set data.val_fraction above 0"),
    ),
    # -- configs ---------------------------------------------------------------------------
    Bad(
        "config-not-yaml",
        "config file",
        ("--config-dir={files}/conf", "+experiment=not_yaml"),
        ("a config file does not parse as YAML", "not_yaml.yaml", "fix that file"),
    ),
    Bad(
        "config-unknown-model-type",
        "config file",
        ("--config-dir={files}/conf", "+experiment=conv_model"),
        ("model.type='conv'", "expected 'mlp' (hidden sizes), 'cnn' (convolution blocks, then hidden sizes) or"),
    ),
    Bad(
        "config-text-learning-rate",
        "config file",
        ("--config-dir={files}/conf", "+experiment=text_lr"),
        ("optimizer.lr='fast'", "lr must be a finite number"),
    ),
    Bad(
        "config-metrics-not-a-list",
        "config file",
        ("--config-dir={files}/conf", "+experiment=metrics_text"),
        ("trainer.metrics='accuracy'", "expected 'auto' or a list of metric names"),
    ),
    Bad("config-missing-value", "config file", ("data=npz",), ("data.path: a value is required", "(data.path=...)")),
    Bad(
        "config-unknown-name",
        "config file",
        ("--config-name=nosuch",),
        ("Cannot find primary config 'nosuch'", "check the name (--config-name)"),
    ),
    Bad(
        "config-dir-missing",
        "config file",
        ("--config-dir={files}/no_such_dir",),
        ("no_such_dir' not found", "give an existing directory to --config-dir"),
    ),
    # -- data files -------------------------------------------------------------------------
    Bad(
        "npz-missing",
        "data file",
        ("data=npz", "data.path={files}/missing.npz"),
        ("missing.npz: no such file", "check the path"),
    ),
    Bad(
        "npz-corrupt",
        "data file",
        ("data=npz", "data.path={files}/corrupt.npz"),
        ("corrupt.npz: truncated or corrupt .npz file", "restore it or use another copy"),
    ),
    Bad(
        "npz-bad-key",
        "data file",
        ("data=npz", "data.path={files}/good.npz", "data.x_key=features"),
        ("no array named 'features'; the file holds ['x', 'y']", "set x_key/y_key"),
    ),
    Bad(
        "npz-pickled-object-array",
        "wrong type or encoding",
        ("data=npz", "data.path={files}/pickled.npz"),
        ("pickled.npz: holds a pickled object array, which is refused", "save numeric (or string) arrays instead"),
    ),
    Bad(
        "npz-nan-input",
        "data file",
        ("data=npz", "data.path={files}/nan.npz"),
        ("nan.npz): x contains nan at index", "inputs must be finite (clean or impute the data first)"),
    ),
    Bad(
        "npz-labels-count",
        "data file",
        ("data=npz", "data.path={files}/mismatch.npz"),
        ("50 samples but 40 labels", "give one label per sample"),
    ),
    Bad(
        "npz-text-inputs",
        "wrong type or encoding",
        ("data=npz", "data.path={files}/text.npz"),
        ("x must be numeric, got dtype <U", "store the inputs as numbers"),
    ),
    Bad(
        "npz-fractional-labels",
        "wrong type or encoding",
        ("data=npz", "data.path={files}/fractional.npz"),
        ("is not a whole number", "use task='regression' for real-valued targets"),
    ),
    Bad(
        "csv-non-numeric-cell",
        "data file",
        ("data=csv", "data.path={files}/letters.csv"),
        ("letters.csv: line 3, column 'b': cell 'abc' is not a finite number", "every cell must be numeric"),
    ),
    Bad(
        "csv-ragged-line",
        "data file",
        ("data=csv", "data.path={files}/ragged.csv"),
        ("ragged.csv: line 3 has 2 cells but the table has 3 columns", "fix that line"),
    ),
    Bad(
        "csv-latin-1",
        "wrong type or encoding",
        ("data=csv", "data.path={files}/latin1.csv"),
        ("latin1.csv: not UTF-8 text (byte 0xe9", "save it as UTF-8"),
    ),
    Bad(
        "csv-binary",
        "wrong type or encoding",
        ("data=csv", "data.path={files}/binary.csv"),
        ("binary.csv: not UTF-8 text", "not a binary file"),
    ),
    Bad(
        "csv-a-directory",
        "misleading message",
        ("data=csv", "data.path={files}/idx"),
        ("idx: a directory, not a CSV file", "give the path of the file itself"),
    ),
    Bad(
        "npz-scalar-array",
        "wrong type or encoding",
        ("data=npz", "data.path={files}/scalar.npz"),
        ("scalar.npz: array 'x' is a single value (shape ())", "first axis counts them"),
    ),
    Bad(
        "csv-empty",
        "data file",
        ("data=csv", "data.path={files}/empty.csv"),
        ("empty.csv: no data rows", "must hold at least one row of numbers"),
    ),
    Bad(
        "csv-unknown-label-column",
        "data file",
        ("data=csv", "data.path={files}/good.csv", "data.label_column=target"),
        ("label_column='target' is not a column", "the columns are ['a', 'b', 'label']"),
    ),
    Bad(
        "idx-wrong-magic",
        "data file",
        ("data=mnist", "data.path={files}/idx", "data.download=false", "data.verify_checksum=false"),
        ("train-images-idx3-ubyte.gz: bad magic number 0x3c68746d", "delete it and download it again"),
    ),
    Bad(
        "idx-missing",
        "data file",
        ("data=mnist", "data.path={files}/no_idx", "data.download=false"),
        ("mnist: data.path=", "/no_idx: train-images-idx3-ubyte.gz, ", "not found there", "put them there"),
    ),
    # -- checkpoints -----------------------------------------------------------------------
    Bad(
        "checkpoint-missing",
        "checkpoint",
        ("trainer.resume={files}/nowhere.npz",),
        ("trainer.resume:", "nowhere.npz: no such file", "check the path"),
    ),
    Bad(
        "checkpoint-truncated",
        "checkpoint",
        ("trainer.resume={files}/truncated.npz",),
        ("truncated.npz: truncated or corrupt .npz file", "restore it or use another copy"),
    ),
    Bad(
        "checkpoint-not-a-checkpoint",
        "checkpoint",
        ("trainer.resume={files}/weights.npz",),
        ("weights.npz: not a framework checkpoint", "resume from one the checkpoint callback wrote"),
    ),
    Bad(
        "checkpoint-future-format",
        "checkpoint",
        ("trainer.resume={files}/future.npz",),
        ("unsupported checkpoint format 'framework-checkpoint' version 99", "resume it with the framework version"),
    ),
    Bad(
        "checkpoint-pickled-object-array",
        "checkpoint",
        ("trainer.resume={files}/pickled_checkpoint.npz",),
        ("holds a pickled object array, which is refused", "save numeric (or string) arrays instead"),
    ),
    Bad(
        "checkpoint-wrong-architecture",
        "checkpoint",
        ("trainer.resume={files}/last.npz", "model.hidden=[16]", "trainer.epochs=6"),  # more than its 5 done
        ("the checkpoint does not fit this model", "model.hidden=[64, 32] (this run: [16])", "resume with the same"),
    ),
    Bad(
        "checkpoint-other-optimizer",
        "checkpoint",
        ("trainer.resume={files}/last.npz", "optimizer=sgd"),
        ("trained with optimizer=adam, this run has optimizer=sgd", "resume with optimizer=adam"),
    ),
    Bad(
        "checkpoint-blocked-plugin-component",
        "checkpoint",
        ("trainer.resume={files}/lion.npz",),
        ("trained with optimizer 'lion' (optimizer) from framework-extras", "install or unblock the plugin"),
        env=BLOCK_EXTRAS,
    ),
    Bad(
        "checkpoint-uninstalled-plugin-component",
        "checkpoint",
        ("trainer.resume={files}/with_marker.npz", "+callbacks.marker={directory: .}"),
        (
            "callback 'marker' (callbacks.marker) from reliability-testkit 0.0.1",
            "is reliability-testkit installed?",
            "leave callbacks.marker out of this run",
        ),
    ),
    # -- plugins --------------------------------------------------------------------------
    Bad(
        "plugin-broken-import",
        "plugin",
        (),
        ('Error importing plugin "broken"', "ModuleNotFoundError", "block it: FRAMEWORK_DISABLE_PLUGINS=broken"),
        plugin={"source": BROKEN_IMPORT, "entry_point": "broken", "name": "broken-dist", "version": "0.1"},
    ),
    Bad(
        "plugin-duplicate-name",
        "plugin",
        (),
        ("optimizer name 'adam' is registered twice by plugin 'twin'", "fix the plugin, or block it"),
        plugin={"source": DUPLICATE_NAME, "entry_point": "twin", "name": "twin-dist", "version": "2.0"},
    ),
    Bad(
        "plugin-named-framework",
        "plugin",
        (),
        ("plugin 'framework' (framework-dist 1.0): a plugin cannot be named 'framework'", "rename its entry point"),
        plugin={"source": "", "entry_point": "framework", "name": "framework-dist", "version": "1.0"},
    ),
    Bad(
        "plugin-registration-raises",
        "plugin",
        (),
        (
            "plugin 'lossy' (lossy-dist 1.0) failed in framework_register_losses: ValueError",
            "FRAMEWORK_DISABLE_PLUGINS=lossy",
        ),
        plugin={"source": RAISING_REGISTRATION, "entry_point": "lossy", "name": "lossy-dist", "version": "1.0"},
    ),
    Bad(
        "plugin-misspelled-hook",
        "plugin",
        (),
        (
            "framework_register_optimisers is not a hook of the framework",
            "did you mean framework_register_optimizers? rename the function",
        ),
        plugin={"source": MISSPELLED_HOOK, "entry_point": "speller", "name": "speller-dist", "version": "1.0"},
    ),
    Bad(
        "plugin-blocked-option",
        "plugin",
        ("optimizer=lion",),
        ("optimizer=lion: the config group 'optimizer' has no option 'lion'", "FRAMEWORK_DISABLE_PLUGINS=extras"),
        env=BLOCK_EXTRAS,
    ),
    Bad(
        "plugin-blocked-name",
        "plugin",
        ("optimizer.name=lion",),
        ("Unknown optimizer 'lion'", "blocked by FRAMEWORK_DISABLE_PLUGINS=extras"),
        env=BLOCK_EXTRAS,
    ),
    Bad(
        "plugin-blocked-callback",
        "plugin",
        ("+callbacks.timer={}",),
        ("Unknown callback 'timer'", "blocked by FRAMEWORK_DISABLE_PLUGINS=extras"),
        env=BLOCK_EXTRAS,
    ),
    # -- values out of range or of the wrong kind -------------------------------------------
    Bad("epochs-fractional", "value", ("trainer.epochs=1.5",), ("trainer.epochs=1.5", "must be a positive integer")),
    Bad("epochs-zero", "value", ("trainer.epochs=0",), ("trainer.epochs=0", "must be a positive integer")),
    Bad("eval-batch-zero", "value", ("trainer.eval_batch_size=0",), ("trainer.eval_batch_size=0", "positive integer")),
    Bad("grad-clip-negative", "value", ("trainer.grad_clip_norm=-1",), ("trainer.grad_clip_norm=-1", "(0, inf]")),
    Bad("threads-zero", "value", ("trainer.threads=0",), ("trainer.threads=0", "a positive number of BLAS threads")),
    Bad("seed-fractional", "value", ("seed=1.5",), ("seed=1.5", "expected a non-negative integer")),
    Bad("seed-text", "value", ("seed=abc",), ("seed='abc'", "expected a non-negative integer")),
    Bad("beta1-too-big", "value", ("optimizer.beta1=1.5",), ("optimizer.beta1=1.5: beta1 must be in [0, 1)",)),
    Bad("eps-zero", "value", ("optimizer.eps=0",), ("optimizer.eps=0: eps must be in (0, inf]",)),
    Bad("weight-decay-negative", "value", ("optimizer.weight_decay=-1",), ("optimizer.weight_decay=-1", "[0, inf]")),
    Bad("momentum-negative", "value", ("optimizer=sgd", "optimizer.momentum=-0.5"), ("optimizer.momentum=-0.5",)),
    Bad("test-fraction-one", "value", ("data.test_fraction=1",), ("data.test_fraction=1: test_fraction", "[0, 1)")),
    Bad("val-fraction-negative", "value", ("data.val_fraction=-0.1",), ("data.val_fraction=-0.1", "[0, 1)")),
    Bad("blobs-no-samples", "value", ("data.n_samples=0",), ("data.n_samples=0: n_samples", "positive integer")),
    Bad("dropout-too-big", "value", ("model.dropout=1.5",), ("model.dropout.rate=1.5", "[0, 1)")),
    Bad("dropout-text", "value", ("model.dropout=abc",), ("model.dropout.rate='abc'", "finite number")),
    Bad("dtype-half", "value", ("model.dtype=float16",), ("model.dtype='float16'", "float32 or float64")),
    Bad("dtype-unparsable", "value", ("model.dtype='f8,(2'",), ("model.dtype='f8,(2'", "float32 or float64")),
    Bad("hidden-zero", "value", ("model.hidden=[0]",), ("model.hidden=[0]", "positive layer widths")),
    Bad(
        "every-n-epochs-zero",
        "value",
        ("callbacks.checkpoint.every_n_epochs=0",),
        ("callbacks.checkpoint.every_n_epochs=0: every_n_epochs must be",),
    ),
    Bad(
        "keep-last-negative",
        "value",
        ("callbacks.checkpoint.keep_last=-1",),
        ("callbacks.checkpoint.keep_last=-1: keep_last must be",),
    ),
    Bad(
        "guard-factor-text",
        "value",
        ("callbacks.nan_guard.max_loss_factor=abc",),
        ("callbacks.nan_guard.max_loss_factor='abc'", "finite number"),
    ),
    Bad(
        "early-stopping-patience",
        "value",
        ("+callbacks.early_stopping={patience: -1}",),
        ("callbacks.early_stopping.patience=-1: patience must be",),
    ),
    Bad(
        "early-stopping-mode",
        "value",
        ("+callbacks.early_stopping={mode: up}",),
        ("callbacks.early_stopping.mode='up': mode must be one of",),
    ),
    Bad(
        "plateau-factor",
        "value",
        ("schedule=reduce_on_plateau", "schedule.factor=2"),
        ("schedule.factor=2: factor must be in (0, 1)",),
    ),
    Bad(
        "plateau-patience",
        "value",
        ("schedule=reduce_on_plateau", "schedule.patience=-1"),
        ("schedule.patience=-1: patience must be",),
    ),
    Bad(
        "plateau-mode",
        "value",
        ("schedule=reduce_on_plateau", "schedule.mode=up"),
        ("schedule.mode='up': mode must be one of",),
    ),
    Bad(
        "exponential-gamma",
        "value",
        ("schedule=exponential", "schedule.gamma=2"),
        ("schedule.gamma=2: gamma must be in (0, 1]",),
    ),
    Bad(
        "step-size-zero",
        "value",
        ("schedule=step", "schedule.step_size=0"),
        ("schedule.step_size=0: step_size must be",),
    ),
    Bad(
        "cosine-min-lr",
        "value",
        ("schedule=cosine", "schedule.min_lr=-1"),
        ("schedule.min_lr=-1: min_lr must be in [0, inf]",),
    ),
    Bad("connect-timeout-zero", "value", ("logger=mlflow", "logger.connect_timeout=0"), ("logger.connect_timeout=0",)),
    Bad("cnn-on-vectors", "value", ("model=cnn",), ("model.conv[0]: cannot be built", "data.flatten=false")),
    Bad("conv-block-short", "value", ("model=cnn", "model.conv=[[32]]"), ("model.conv[0]=[32]", "[filters, kernel]")),
    Bad("pool-unknown", "value", ("model=cnn", "model.pool=median"), ("model.pool='median'", "max, avg")),
    Bad(
        "sequential-without-layers", "value", ("model.type=sequential",), ("model.layers:", "non-empty list of layers")
    ),
    Bad("sequential-empty", "value", ("model=sequential", "model.layers=[]"), ("model.layers:", "non-empty list")),
    # -- booleans written as words ----------------------------------------------------------
    Bad(
        "sgd-nesterov-no",
        "boolean",
        ("optimizer=sgd", "optimizer.nesterov=no"),
        ("optimizer.nesterov='no'", "true or false"),
    ),
    Bad(
        "rmsprop-centered-off",
        "boolean",
        ("optimizer=rmsprop", "optimizer.centered=off"),
        ("optimizer.centered='off'", "true or false"),
    ),
    Bad(
        "mse-half-no",
        "boolean",
        ("loss=mse", "data=regression_curve", "loss.half=no"),
        ("loss.half='no'", "true or false"),
    ),
    Bad("standardize-no", "boolean", ("data.standardize=no",), ("data.standardize='no'", "true or false")),
    Bad("scale-off", "boolean", ("data.scale=off",), ("data.scale='off'", "true or false")),
    Bad("flatten-nope", "boolean", ("data.flatten=nope",), ("data.flatten='nope'", "true or false")),
    Bad(
        "save-best-yes",
        "boolean",
        ("callbacks.checkpoint.save_best=yes",),
        ("callbacks.checkpoint.save_best='yes'", "true or false"),
    ),
    Bad(
        "restore-best-maybe",
        "boolean",
        ("+callbacks.early_stopping={restore_best_weights: maybe}",),
        ("callbacks.early_stopping.restore_best_weights='maybe'", "true or false"),
    ),
    Bad(
        "log-model-no", "boolean", ("logger=mlflow", "logger.log_model=no"), ("logger.log_model='no'", "true or false")
    ),
    Bad(
        "log-plots-nope",
        "boolean",
        ("logger=mlflow", "logger.log_plots=nope"),
        ("logger.log_plots='nope'", "true or false"),
    ),
    Bad(
        "log-checkpoints-off",
        "boolean",
        ("logger=mlflow", "logger.log_checkpoints=off"),
        ("logger.log_checkpoints='off'", "true or false"),
    ),
    Bad("batch-norm-no", "boolean", ("model.batch_norm=no",), ("model.batch_norm='no'", "true or false")),
    Bad(
        "csv-header-no",
        "boolean",
        ("data=csv", "data.path={files}/good.csv", "data.header=no"),
        ("data.header='no'", "true or false"),
    ),
    Bad(
        "dense-use-bias-no",
        "boolean",
        ("model=sequential", "model.layers=[{name: dense, units: 3, use_bias: no}]"),
        ("model.layers[0].use_bias='no'", "true or false"),
    ),
    # -- unknown keys and names ------------------------------------------------------------------
    Bad("misspelled-top-level-key", "unknown key", ("sed=3",), ("sed: no such config key", "did you mean seed?")),
    Bad(
        "misspelled-new-top-level-key",
        "unknown key",
        ("+sed=3",),
        ("sed: no such config section", "did you mean seed?"),
    ),
    Bad(
        "misspelled-new-model-section",
        "unknown key",
        ("+modle.hidden=[8]",),
        ("modle: no such config section", "did you mean model?"),
    ),
    Bad(
        "misspelled-data-key",
        "unknown key",
        ("data.val_frac=0.2",),
        ("data.val_frac: no such config key", "did you mean data.val_fraction?"),
    ),
    Bad(
        "misspelled-model-key",
        "unknown key",
        ("model.hiden=[8]",),
        ("model.hiden: no such config key", "did you mean model.hidden?"),
    ),
    Bad(
        "misspelled-callback-section",
        "unknown key",
        ("callbacks.checkpont.monitor=loss",),
        ("did you mean callbacks.checkpoint.monitor?",),
    ),
    Bad(
        "misspelled-name-key",
        "unknown key",
        ("loss.nam=mse",),
        ("loss.nam: no such config key", "did you mean loss.name?"),
    ),
    Bad(
        "misspelled-schedule-key",
        "unknown key",
        ("schedule=cosine", "schedule.warmup_epoch=3"),
        ("did you mean schedule.warmup_epochs?",),
    ),
    Bad(
        "other-library-key",
        "unknown key",
        ("optimizer.learning_rate=0.1",),
        ("optimizer.learning_rate: no such config key",),
    ),
    Bad(
        "other-library-argument",
        "unknown key",
        ("+optimizer.learning_rate=0.1",),
        ("optimizer.learning_rate: Adam (adam) takes no argument 'learning_rate'", "it takes: lr"),
    ),
    Bad(
        "unknown-schedule-option",
        "unknown key",
        ("schedule=cosin",),
        ("schedule=cosin: the config group 'schedule' has no option 'cosin'", "cosine"),
    ),
    Bad(
        "unknown-data-option",
        "unknown key",
        ("data=blob",),
        ("data=blob: the config group 'data' has no option 'blob'", "blobs"),
    ),
    Bad(
        "unknown-optimizer-name",
        "unknown key",
        ("optimizer.name=adamm",),
        ("optimizer.name='adamm': Unknown optimizer 'adamm'", "Did you mean 'adam'?"),
    ),
    Bad(
        "unknown-plugin-in-a-qualified-name",
        "unknown key",
        ("optimizer.name=framwork:adam",),
        ("optimizer.name='framwork:adam': Unknown optimizer 'framwork:adam'", "Did you mean 'framework:adam'?"),
    ),
    Bad(
        "unknown-activation",
        "unknown key",
        ("model.activation=rellu",),
        ("model.activation='rellu': Unknown layer 'rellu'", "Did you mean 'relu'?"),
    ),
    Bad(
        "unknown-initializer",
        "unknown key",
        ("model.init=glorot",),
        ("model.init='glorot': Unknown initializer 'glorot'",),
    ),
    Bad(
        "unknown-metric",
        "unknown key",
        ("trainer.metrics=[acuracy]",),
        ("trainer.metrics[0]='acuracy': Unknown metric", "Did you mean 'accuracy'?"),
    ),
    Bad(
        "unknown-output-activation",
        "unknown key",
        ("model.output_activation=softmaxx",),
        ("model.output_activation.name='softmaxx'", "Did you mean 'softmax'?"),
    ),
    Bad(
        "unknown-logger-argument",
        "unknown key",
        ("logger=mlflow", "+logger.uri=x"),
        ("logger.uri:", "takes no argument 'uri'", "tracking_uri"),
    ),
    # -- values that make no sense together ------------------------------------------------------
    Bad(
        "warmup-longer-than-run",
        "together",
        ("schedule=cosine", "schedule.warmup_epochs=30", "trainer.epochs=10"),
        (
            "schedule.warmup_epochs=30 with trainer.epochs=10",
            "longer than the whole run",
            "make schedule.warmup_epochs smaller than trainer.epochs",
        ),
    ),
    Bad(
        "warmup-fraction-longer-than-run",
        "together",
        ("schedule=cosine", "schedule.warmup_epochs=2.5", "trainer.epochs=2"),
        ("schedule.warmup_epochs=2.5 with trainer.epochs=2",),
    ),
    Bad(
        "softmax-before-logits-loss",
        "together",
        ("model.output_activation=softmax",),
        ("loss=softmax_cross_entropy: applies its softmax or sigmoid itself", "remove model.output_activation"),
    ),
    Bad(
        "sigmoid-before-logits-loss",
        "together",
        ("data=xor", "loss=binary_cross_entropy", "model.output_activation=sigmoid"),
        ("loss=binary_cross_entropy: applies its softmax or sigmoid itself", "remove model.output_activation"),
    ),
    Bad(
        "probabilities-loss-after-linear",
        "together",
        ("loss=cross_entropy",),
        ("loss=cross_entropy: takes probabilities", "model.output_activation=softmax"),
    ),
    Bad(
        "single-class-labels",
        "together",
        ("data=npz", "data.path={files}/one_class.npz"),
        ("every training label is class 0", "at least 2 classes"),
    ),
    Bad(
        "data-nan-named-by-file-row",
        "data file",
        ("data=npz", "data.path={files}/nan_row.npz"),
        ("nan_row.npz): x contains nan at index 37, feature 2", "inputs must be finite"),
    ),
    Bad(
        "data-inf-named-by-file-row",
        "data file",
        ("data=npz", "data.path={files}/inf_row.npz"),
        ("inf_row.npz): x contains inf at index 41, feature 0", "inputs must be finite"),
    ),
    Bad(
        "data-minus-inf-named-by-file-row",
        "data file",
        ("data=npz", "data.path={files}/ninf_row.npz", "data.test_fraction=0.5"),
        ("ninf_row.npz): x contains -inf at index 8, feature 1", "inputs must be finite"),
    ),
    Bad(
        "data-nan-label-named-by-file-row",
        "data file",
        ("data=npz", "data.path={files}/nan_label_row.npz"),
        ("nan_label_row.npz): label nan at index 29 is not a whole number", "class labels must be integer"),
    ),
    Bad(
        "data-label-out-of-range-named-by-file-row",
        "data file",
        ("data=npz", "data.path={files}/label_5_row.npz", "data.num_classes=3"),
        ("label_5_row.npz): label 5 at index 44 is not below the number of classes (3)", "fix the labels"),
    ),
    Bad(
        "data-negative-label-named-by-file-row",
        "data file",
        ("data=npz", "data.path={files}/label_negative_row.npz"),
        ("label_negative_row.npz): label -2 at index 19 is negative", "fix the labels"),
    ),
    Bad(
        "data-csv-label-named-by-data-row",
        "data file",
        ("data=csv", "data.path={files}/label_9_row.csv", "data.num_classes=3"),
        ("label_9_row.csv): label 9 at data row 34 is not below the number of classes (3)", "fix the labels"),
    ),
    Bad(
        "data-nan-target-named-by-file-row",
        "data file",
        (
            "data=npz",
            "data.path={files}/nan_target_row.npz",
            "data.task=regression",
            "loss=mse",
            "trainer.metrics=[mse]",
        ),
        ("nan_target_row.npz): y contains nan at index 13", "targets must be finite"),
    ),
    Bad(
        "binary-loss-labels-not-from-0",
        "together",
        ("loss=binary_cross_entropy", "data=npz", "data.path={files}/labels_1_2.npz"),
        ("loss=binary_cross_entropy needs 2 classes", "(labels 1, 2)", "renumber 1, 2 in ", "labels_1_2.npz from 0"),
    ),
    # -- paths that are not regular files ---------------------------------------------------------
    Bad(
        "npz-a-named-pipe",
        "not a regular file",
        ("data=npz", "data.path={files}/special/pipe.npz"),
        ("pipe.npz: a named pipe (FIFO), not an .npz file", "give the path of a regular file"),
    ),
    Bad(
        "csv-a-named-pipe",
        "not a regular file",
        ("data=csv", "data.path={files}/special/pipe.npz"),
        ("pipe.npz: a named pipe (FIFO), not a CSV file", "give the path of a regular file"),
    ),
    Bad(
        "resume-a-named-pipe",
        "not a regular file",
        ("trainer.resume={files}/special/pipe.npz",),
        ("trainer.resume:", "a named pipe (FIFO), not an .npz file", "give the path of a regular file"),
    ),
    Bad(
        "npz-a-symlink-loop",
        "not a regular file",
        ("data=npz", "data.path={files}/special/loop_a.npz"),
        ("loop_a.npz: a loop of symbolic links", "point the link at an .npz file, or give the file's own path"),
    ),
    Bad(
        "csv-a-symlink-loop",
        "not a regular file",
        ("data=csv", "data.path={files}/special/loop_b.npz"),
        ("loop_b.npz: a loop of symbolic links", "point the link at a CSV file"),
    ),
    Bad(
        "npz-a-dangling-link",
        "not a regular file",
        ("data=npz", "data.path={files}/special/gone.npz"),
        ("gone.npz: a symbolic link to nowhere.npz, which does not exist", "check the path"),
    ),
    Bad(
        "npz-given-a-csv",
        "not a regular file",
        ("data=npz", "data.path={files}/good.csv"),
        ("good.csv: a text file (it begins 'a,b,label'), not an .npz archive", "a CSV is read by data=csv"),
    ),
    # -- hostile or habitual overrides ---------------------------------------------------------------
    Bad(
        "group-given-a-list",
        "hostile override",
        ("data=[npz,csv]",),
        ("data=[npz,csv]: the config group 'data' takes one option, not a list", "choose one of: blobs, csv"),
    ),
    Bad(
        "optimizer-group-given-a-list",
        "hostile override",
        ("optimizer=[adam,sgd]",),
        ("optimizer=[adam,sgd]: the config group 'optimizer' takes one option", "-m optimizer=adam,sgd"),
    ),
    Bad(
        "tilde-in-a-path",
        "hostile override",
        ("data=npz", "data.path=~/digits.npz"),
        ("data.path=~/digits.npz: the shell does not expand ~", "data.path=$HOME/digits.npz"),
    ),
    Bad(
        "tilde-inside-a-path",
        "hostile override",
        ("data=npz", "data.path=my~digits.npz"),
        (
            "data.path=my~digits.npz: Hydra cannot read '~' in a value that is not quoted",
            """'data.path="my~digits.npz"'""",
        ),
    ),
    Bad(
        "non-ascii-letter-in-a-value",
        "hostile override",
        ("data=npz", "data.path=donn\u00e9es.npz"),
        (
            "Hydra cannot read '\u00e9' in a value that is not quoted",
            "quote the value for Hydra inside the shell's quotes",
        ),
    ),
    Bad(
        "a-10000-character-key",
        "hostile override",
        ("optimizer." + "k" * 10000 + "=1",),
        ("a key of 10,010 characters", "config keys are short dotted names", "more characters)"),
    ),
    Bad(
        "escape-sequence-in-the-job-name",
        "hostile override",
        ('hydra.job.name="a\x1b[31m"',),
        ("hydra.job.name=a\\x1b[31m: ", "holds a control character", "give a plain file name"),
    ),
    Bad(
        "escape-sequence-in-the-experiment-name",
        "hostile override",
        ("logger=mlflow", 'logger.experiment_name="\x1b[31mexp"'),
        ("experiment_name holds a control character", "give a name of printable characters"),
    ),
    Bad(
        "escape-sequence-in-a-value",
        "hostile override",
        ("optimizer.lr=abc\x1b[31mRED",),
        ("optimizer.lr=abc\\x1b[31mRED",),
    ),
    Bad(
        "bell-in-a-value",
        "hostile override",
        ("trainer.epochs=\x07\x07",),
        ("trainer.epochs", "\\x07"),
    ),
    Bad(
        "non-ascii-letter-in-a-key",
        "hostile override",
        ("optimizer.lr\u00e9=0.1",),
        ("optimizer.lr\u00e9: the key holds '\u00e9' (U+00E9, character 13)", "type the key again in ASCII"),
    ),
    Bad(
        "cyrillic-letter-in-a-key",
        "hostile override",
        ("trainer.\u0435pochs=3",),
        ("(U+0435, character 9)", "type the key again in ASCII"),
    ),
    Bad(
        "a-600-character-experiment-name",
        "hostile override",
        ("logger=mlflow", "logger.experiment_name=" + "x" * 600),
        ("more characters)", "experiment_name is 600 characters long and MLflow takes at most 500"),
    ),
    Bad(
        "a-501-character-experiment-name",
        "tracking store",
        ("logger=mlflow", "logger.experiment_name=" + "e" * 501),
        ("experiment_name is 501 characters long", "give a shorter name"),
    ),
    Bad(
        "binary-loss-three-classes",
        "together",
        ("loss=binary_cross_entropy",),
        ("loss=binary_cross_entropy needs 2 classes", "has 3"),
    ),
    Bad(
        "regression-metric-on-classes",
        "together",
        ("trainer.metrics=[mse]",),
        ("trainer.metrics[0]='mse': a regression metric, but the data is classification",),
    ),
    Bad(
        "checkpoint-monitor-not-logged",
        "together",
        ("callbacks.checkpoint.monitor=val_acc",),
        ("callbacks.checkpoint.monitor='val_acc': not a value this run logs", "val_accuracy"),
    ),
    Bad(
        "trainer-monitor-not-logged",
        "together",
        ("trainer.monitor=val_acc",),
        ("trainer.monitor='val_acc': not a value this run logs",),
    ),
    Bad(
        "plateau-monitor-not-logged",
        "together",
        ("schedule=reduce_on_plateau", "schedule.monitor=val_acc"),
        ("schedule.monitor='val_acc': not a value this run logs",),
    ),
    Bad(
        "early-stopping-monitor-not-logged",
        "together",
        ("+callbacks.early_stopping={monitor: val_acc}",),
        ("callbacks.early_stopping.monitor='val_acc': not a value",),
    ),
    Bad(
        "early-stopping-without-validation",
        "together",
        ("data.val_fraction=0", "trainer.monitor=loss", "+callbacks.early_stopping={}"),
        ("callbacks.early_stopping.monitor='val_loss': data.val_fraction=0 leaves no validation split",),
    ),
    Bad(
        "label-name-without-header",
        "together",
        ("data=csv", "data.path={files}/good.csv", "data.label_column=label", "data.header=false"),
        ("data.label_column='label': label_column='label' is a name",),
    ),
    Bad(
        "half-of-the-test-keys",
        "together",
        ("data=npz", "data.path={files}/good.npz", "data.x_test_key=x"),
        ("data.x_test_key='x'", "give both x_test_key and y_test_key"),
    ),
    Bad(
        "labels-beyond-num-classes",
        "together",
        ("data=npz", "data.path={files}/good.npz", "data.num_classes=2"),
        ("label 2 at index", "fix the labels or the num_classes option"),
    ),
    Bad(
        "test-features-differ",
        "together",
        ("data=npz", "data.path={files}/test_width.npz", "data.x_test_key=xt", "data.y_test_key=yt"),
        ("test samples have shape (4,) but training samples (3,)",),
    ),
    # -- sizes that cannot fit ---------------------------------------------------------------------
    Bad(
        "hidden-a-billion",
        "size",
        ("model.hidden=[1000000000]",),
        ("model.hidden=[1000000000]: ", "parameters with their gradients needs", "GiB", "make model.hidden smaller"),
    ),
    Bad(
        "two-wide-layers",
        "size",
        ("model.hidden=[200000,200000]",),
        ("model.hidden=[200000, 200000]: ", "GiB", "make model.hidden smaller"),
    ),
    Bad(
        "label-a-billion",
        "size",
        ("data=npz", "data.path={files}/huge_label.npz"),
        ("huge_label.npz): label 1000000000 at index 0 makes 1,000,000,001 classes", "number the classes 0 to 3"),
    ),
    Bad(
        "num-classes-a-billion",
        "size",
        ("data=npz", "data.path={files}/good.npz", "data.num_classes=1000000000"),
        ("with 1,000,000,000 outputs", "GiB", "check data.num_classes and the labels"),
    ),
    Bad(
        "batch-size-1e12",
        "size",
        ("trainer.batch_size=1e12",),
        ("trainer.batch_size=1000000000000.0", "must be a positive integer"),
    ),
    Bad(
        "conv-a-million-filters",
        "size",
        ("data=npz", "data.path={files}/images.npz", "data.flatten=false", "model=cnn", "model.conv=[[1000000,3]]"),
        ("model.conv=[[1000000, 3]]: ", "GiB", "make model.hidden or model.conv smaller"),
    ),
    # -- wrong types and encodings ---------------------------------------------------------------
    Bad(
        "hidden-a-number",
        "wrong type or encoding",
        ("model.hidden=64",),
        ("model.hidden=64: expected a list of positive layer widths",),
    ),
    Bad("hidden-text", "wrong type or encoding", ("model.hidden=[a]",), ("model.hidden=['a']: expected a list",)),
    Bad(
        "activation-null",
        "wrong type or encoding",
        ("model.activation=null",),
        ("model.activation=None: expected a layer name",),
    ),
    Bad(
        "activation-list",
        "wrong type or encoding",
        ("model.activation=[relu]",),
        ("model.activation=['relu']: expected a layer name",),
    ),
    Bad(
        "optimizer-name-number",
        "wrong type or encoding",
        ("optimizer.name=123",),
        ("optimizer.name=123: expected one optimizer name (a string)",),
    ),
    Bad("lr-a-list", "wrong type or encoding", ("optimizer.lr=[0.1]",), ("optimizer.lr=[0.1]", "finite number")),
    Bad("epochs-a-list", "wrong type or encoding", ("trainer.epochs=[1]",), ("trainer.epochs=[1]", "positive integer")),
    Bad(
        "metrics-a-word",
        "wrong type or encoding",
        ("trainer.metrics=accuracy",),
        ("trainer.metrics='accuracy': expected 'auto' or a list",),
    ),
    Bad(
        "checkpoint-monitor-null",
        "wrong type or encoding",
        ("callbacks.checkpoint.monitor=null",),
        ("callbacks.checkpoint.monitor=None: monitor must be the name of a logged value",),
    ),
    Bad(
        "plateau-monitor-null",
        "wrong type or encoding",
        ("schedule=reduce_on_plateau", "schedule.monitor=null"),
        ("schedule.monitor=None: monitor must be the name",),
    ),
    Bad(
        "trainer-monitor-null",
        "wrong type or encoding",
        ("trainer.monitor=null",),
        ("trainer.monitor=None: name a logged value",),
    ),
    Bad(
        "checkpoint-directory-null",
        "wrong type or encoding",
        ("callbacks.checkpoint.directory=null",),
        ("callbacks.checkpoint.directory=None: directory must be a non-empty path",),
    ),
    Bad(
        "csv-utf-16",
        "wrong type or encoding",
        ("data=csv", "data.path={files}/utf16.csv"),
        ("utf16.csv: not UTF-8 text", "save it as UTF-8"),
    ),
    Bad(
        "npz-one-hot-labels",
        "wrong type or encoding",
        ("data=npz", "data.path={files}/one_hot.npz"),
        ("class labels must have shape (n,)", "not one-hot rows"),
    ),
    Bad(
        "npz-text-labels",
        "wrong type or encoding",
        ("data=npz", "data.path={files}/text_labels.npz"),
        ("class labels must be numbers", "map each class to an integer"),
    ),
    Bad(
        "checkpoint-manifest-a-list",
        "wrong type or encoding",
        ("trainer.resume={files}/manifest_list.npz",),
        ("manifest_list.npz: the checkpoint manifest is a JSON list", "resume from another copy"),
    ),
    Bad(
        "checkpoint-manifest-not-json",
        "wrong type or encoding",
        ("trainer.resume={files}/manifest_text.npz",),
        ("manifest_text.npz: the checkpoint manifest is not valid JSON", "resume from another copy"),
    ),
    Bad(
        "checkpoint-config-a-list",
        "wrong type or encoding",
        ("trainer.resume={files}/config_list.npz",),
        ("config_list.npz: the checkpoint manifest's 'config' is a JSON list", "resume from another copy"),
    ),
    Bad(
        "checkpoint-components-a-string",
        "wrong type or encoding",
        ("trainer.resume={files}/components_text.npz",),
        ("components_text.npz: the checkpoint manifest's 'components' is a JSON string", "resume from another copy"),
    ),
    Bad(
        "checkpoint-weights-nan",
        "checkpoint",
        ("trainer.resume={files}/nan_weights.npz",),
        ("nan_weights.npz: the checkpoint's weights hold NaN or infinite values", "resume from an earlier checkpoint"),
    ),
    Bad(
        "checkpoint-weights-inf",
        "checkpoint",
        ("trainer.resume={files}/inf_weights.npz",),
        ("inf_weights.npz: the checkpoint's weights hold NaN or infinite values", "resume from an earlier checkpoint"),
    ),
    # -- messages that used to mislead -------------------------------------------------------------
    Bad(
        "npz-a-directory",
        "misleading message",
        ("data=npz", "data.path={files}/idx"),
        ("idx: a directory, not an .npz file", "the file itself"),
    ),
    Bad(
        "checkpoint-a-directory",
        "misleading message",
        ("trainer.resume={files}/idx",),
        ("trainer.resume:", "a directory, not an .npz file"),
    ),
    Bad(
        "csv-semicolons",
        "misleading message",
        ("data=csv", "data.path={files}/semicolons.csv"),
        ("cell '0;0;0' is not a finite number", "the cells look separated by ';'", "\"data.delimiter=';'\""),
    ),
    Bad(
        "csv-tabs",
        "misleading message",
        ("data=csv", "data.path={files}/tabs.csv"),
        ("separated by '\\t'", "\"data.delimiter='\\t'\""),
    ),
    Bad(
        "csv-spaces",
        "misleading message",
        ("data=csv", "data.path={files}/spaces.csv"),
        ("separated by ' '", "\"data.delimiter=' '\""),
    ),
    Bad(
        "csv-commas-read-as-semicolons",
        "misleading message",
        ("data=csv", "data.path={files}/good.csv", "data.delimiter=';'"),
        ("separated by ','", "\"data.delimiter=','\""),
    ),
    Bad(
        "csv-semicolons-without-header",
        "misleading message",
        ("data=csv", "data.path={files}/semicolons_no_header.csv", "data.header=false"),
        ("line 1", "separated by ';'"),
    ),
    Bad(
        "csv-header-read-as-data",
        "misleading message",
        ("data=csv", "data.path={files}/good.csv", "data.header=false"),
        ("line 1, column '#1': cell 'a' is not a finite number", "looks like a header row", "data.header=true"),
    ),
    Bad(
        "csv-first-sample-read-as-header",
        "misleading message",
        ("data=csv", "data.path={files}/no_header.csv"),
        ("its first line (0,0,0) holds numbers", "set data.header=false"),
    ),
    Bad(
        "csv-one-column",
        "misleading message",
        ("data=csv", "data.path={files}/one_column.csv"),
        ("one column found ('label')", "data.delimiter=','"),
    ),
    Bad(
        "csv-label-index-outside",
        "misleading message",
        ("data=csv", "data.path={files}/good.csv", "data.label_column=7"),
        ("label_column=7 is outside the 3 columns",),
    ),
    Bad(
        "npz-missing-label-key",
        "misleading message",
        ("data=npz", "data.path={files}/good.npz", "data.y_key=labels"),
        ("no array named 'labels'", "set x_key/y_key"),
    ),
    Bad(
        "npz-negative-label",
        "misleading message",
        ("data=npz", "data.path={files}/negative_label.npz"),
        ("label -1 at index 0 is negative",),
    ),
    # -- checkpoints (more) ---------------------------------------------------------------------
    Bad("checkpoint-a-csv", "checkpoint", ("trainer.resume={files}/good.csv",), ("trainer.resume:", "good.csv")),
    Bad("checkpoint-empty-file", "checkpoint", ("trainer.resume={files}/empty.npz",), ("trainer.resume:", "empty.npz")),
    Bad(
        "checkpoint-other-dtype",
        "checkpoint",
        ("trainer.resume={files}/last.npz", "model.dtype=float64", "trainer.epochs=6"),
        ("float32", "float64"),
    ),
    Bad(
        "checkpoint-fewer-epochs",
        "checkpoint",
        ("trainer.resume={files}/last.npz", "trainer.epochs=2"),
        ("trainer.epochs=2",),
    ),
    Bad(
        "checkpoint-other-loss",
        "checkpoint",
        (
            "trainer.resume={files}/last.npz",
            "loss=cross_entropy",
            "model.output_activation=softmax",
            "trainer.epochs=6",
        ),
        ("loss",),
    ),
    # -- the tracking store's own faults ---------------------------------------------------------
    Bad(
        "store-not-sqlite",
        "tracking store",
        ("logger=mlflow", "logger.tracking_uri=sqlite:///{files}/notes.db"),
        ("logger.tracking_uri=sqlite:///", "notes.db is not an SQLite database", "move it aside"),
    ),
    Bad(
        "store-cut-short",
        "tracking store",
        ("logger=mlflow", "logger.tracking_uri=sqlite:///{files}/cut.db"),
        ("cut.db is cut short", "restore it from a backup or move it aside", "or run with logger=none"),
    ),
    Bad(
        "store-header-only",
        "tracking store",
        ("logger=mlflow", "logger.tracking_uri=sqlite:///{files}/header_only.db"),
        ("header_only.db is cut short (100 of", "move it aside (mv "),
    ),
    Bad(
        "store-of-another-application",
        "tracking store",
        ("logger=mlflow", "logger.tracking_uri=sqlite:///{files}/other_app.db"),
        ("other_app.db is an SQLite database but not an MLflow store", "track elsewhere"),
    ),
    Bad(
        "store-below-a-file",
        "tracking store",
        ("logger=mlflow", "logger.tracking_uri=sqlite:///{files}/good.csv/mlflow.db"),
        ("good.csv is a file, not a directory", "track elsewhere"),
    ),
    Bad(
        "store-server-refused",
        "tracking store",
        ("logger=mlflow", "logger.tracking_uri=http://127.0.0.1:1", "logger.connect_timeout=0.2"),
        ("logger.tracking_uri=http://127.0.0.1:1: the MLflow tracking server does not answer", "logger=none"),
    ),
    Bad(
        "store-database-refused",
        "tracking store",
        ("logger=mlflow", "logger.tracking_uri=postgresql://127.0.0.1:1/runs", "logger.connect_timeout=0.2"),
        ("the database server at 127.0.0.1:1 does not accept a connection", "logger=none"),
    ),
    Bad(
        "store-unknown-scheme",
        "tracking store",
        ("logger=mlflow", "logger.tracking_uri=nosuch://x"),
        ("logger.tracking_uri=nosuch://x: cannot open the MLflow store",),
    ),
    Bad(
        "store-experiment-null",
        "tracking store",
        ("logger=mlflow", "logger.experiment_name=null"),
        ("logger.experiment_name=None: experiment_name must be a non-empty string",),
    ),
    Bad(
        "store-tags-a-list",
        "tracking store",
        ("logger=mlflow", "logger.tags=[a]"),
        ("logger.tags=['a']: tags must be a mapping",),
    ),
    # -- secrets ----------------------------------------------------------------------------------
    Bad(
        "secret-in-database-uri",
        "secret",
        (
            "logger=mlflow",
            "logger.tracking_uri=postgresql://ann:hunter2@127.0.0.1:1/runs",
            "logger.connect_timeout=0.2",
        ),
        ("logger.tracking_uri=postgresql://ann@127.0.0.1:1/runs: the database server",),
        absent=("hunter2",),
    ),
    Bad(
        "secret-in-mysql-uri",
        "secret",
        (
            "logger=mlflow",
            "logger.tracking_uri=mysql+pymysql://ann:hunter2@127.0.0.1:1/runs",
            "logger.connect_timeout=0.2",
        ),
        ("mysql+pymysql://ann:***@127.0.0.1:1/runs",),
        absent=("hunter2",),
    ),
    Bad(
        "secret-in-server-uri",
        "secret",
        ("logger=mlflow", "logger.tracking_uri=http://ann:hunter2@127.0.0.1:1", "logger.connect_timeout=0.2"),
        ("logger.tracking_uri=http://127.0.0.1:1: the MLflow tracking server does not answer",),
        absent=("hunter2",),
    ),
    Bad(
        "secret-in-an-unknown-argument",
        "secret",
        ("logger=mlflow", "+logger.password=hunter2"),
        ("logger.password:", "takes no argument 'password'"),
        absent=("hunter2",),
    ),
    # -- plugins (more) ---------------------------------------------------------------------------
    Bad(
        "disable-misspelled-plugin",
        "plugin",
        (),
        ("FRAMEWORK_DISABLE_PLUGINS=extra: no plugin is named 'extra'", "did you mean extras?", "the plugins are: "),
        env={"FRAMEWORK_DISABLE_PLUGINS": "extra"},
    ),
    Bad(
        "disable-one-unknown-of-two",
        "plugin",
        (),
        ("FRAMEWORK_DISABLE_PLUGINS=extras,nosuch: no plugin is named 'nosuch'", "contrib, extras"),
        env={"FRAMEWORK_DISABLE_PLUGINS": "extras,nosuch"},
    ),
    Bad(
        "plugin-config-dir-missing",
        "plugin",
        (),
        (
            "plugin 'confless' (confless-dist 0.2): config directory",
            "does not exist",
            "FRAMEWORK_DISABLE_PLUGINS=confless",
        ),
        plugin={"source": MISSING_CONFIG_DIR, "entry_point": "confless", "name": "confless-dist", "version": "0.2"},
    ),
    Bad(
        "plugin-config-dir-a-file",
        "plugin",
        (),
        ("config directory", "is not a directory", "FRAMEWORK_DISABLE_PLUGINS=filed"),
        plugin={"source": CONFIG_DIR_A_FILE, "entry_point": "filed", "name": "filed-dist", "version": "0.2"},
    ),
    Bad(
        "plugin-registration-not-a-list",
        "plugin",
        (),
        ("framework_register_layers must return a list, got str",),
        plugin={"source": REGISTERS_A_STRING, "entry_point": "stringy", "name": "stringy-dist"},
    ),
    Bad(
        "plugin-registers-an-instance",
        "plugin",
        (),
        ("which is not a class", "return the class itself"),
        plugin={"source": REGISTERS_AN_INSTANCE, "entry_point": "instance", "name": "instance-dist"},
    ),
    Bad(
        "plugin-registers-a-nameless-class",
        "plugin",
        (),
        ("without a 'name' attribute",),
        plugin={"source": REGISTERS_A_NAMELESS_CLASS, "entry_point": "nameless", "name": "nameless-dist"},
    ),
    Bad(
        "plugin-hook-name-constant",
        "plugin",
        (),
        ("framework_settings is not a function", "rename it"),
        plugin={"source": HOOK_NAME_CONSTANT, "entry_point": "constant", "name": "constant-dist"},
    ),
    # -- bugs inside a plugin's components ----------------------------------------------------------
    *[
        Bad(
            f"plugin-bug-{label}",
            "plugin bug",
            ("logger=none", *args),
            (
                f"{described} from plugin 'buggy' (buggy-dist 1.2.3) raised {error}",
                "a bug in that plugin",
                "HYDRA_FULL_ERROR=1 prints it here",
            ),
            plugin=BUGGY,
        )
        for label, args, described, error in PLUGIN_BUGS
    ],
    Bad(
        "plugin-bug-traceback-on-request",
        "plugin bug",
        ("logger=none", "optimizer=sgd", "optimizer.name=broken_optimizer"),
        ("optimizer 'broken_optimizer' from plugin 'buggy' (buggy-dist 1.2.3) raised ZeroDivisionError",),
        env={"HYDRA_FULL_ERROR": "1"},
        plugin=BUGGY,
        traceback=True,
    ),
]

#: Rows that also run as a real ``python -m framework.train`` subprocess.
IN_A_TERMINAL = [
    "npz-a-named-pipe",
    "escape-sequence-in-a-value",
    "epochs-not-int",
    "sgd-nesterov-no",
    "misspelled-section",
    "warmup-longer-than-run",
    "hidden-a-billion",
    "csv-latin-1",
    "csv-semicolons",
    "store-not-sqlite",
    "secret-in-database-uri",
    "plugin-bug-layer-forward",
    "unknown-group-option",
    "malformed-override",
    "config-not-yaml",
    "npz-corrupt",
    "csv-non-numeric-cell",
    "checkpoint-truncated",
    "checkpoint-blocked-plugin-component",
    "plugin-broken-import",
]


CLASSES = {
    "value",
    "boolean",
    "unknown key",
    "together",
    "size",
    "wrong type or encoding",
    "misleading message",
    "config file",
    "data file",
    "checkpoint",
    "tracking store",
    "secret",
    "plugin",
    "plugin bug",
    "not a regular file",
    "hostile override",
}


def test_the_table_covers_at_least_150_bad_inputs_and_several_of_every_class():
    assert len(BAD_INPUTS) >= 150
    assert len({case.id for case in BAD_INPUTS}) == len(BAD_INPUTS)
    counts = Counter(case.kind for case in BAD_INPUTS)
    assert set(counts) == CLASSES
    assert min(counts.values()) >= 3, counts
    assert {case.kind for case in BAD_INPUTS if case.id in IN_A_TERMINAL} == CLASSES


# -- the files the rows point at ----------------------------------------------------------------


def _write_bad_tables(directory: Path) -> None:
    rows = [(i, 2 * i, i % 2) for i in range(20)]
    for name, delimiter in (("semicolons", ";"), ("tabs", "\t"), ("spaces", " ")):
        lines = [delimiter.join(("a", "b", "label")), *(delimiter.join(map(str, row)) for row in rows)]
        (directory / f"{name}.csv").write_text("\n".join(lines) + "\n")
    (directory / "semicolons_no_header.csv").write_text("".join(f"{a};{b};{c}\n" for a, b, c in rows))
    (directory / "no_header.csv").write_text("".join(f"{a},{b},{c}\n" for a, b, c in rows))
    (directory / "one_column.csv").write_text("label\n" + "".join(f"{c}\n" for *_, c in rows))
    (directory / "utf16.csv").write_bytes("a,b,label\n1,2,0\n3,4,1\n".encode("utf-16"))
    (directory / "notes.db").write_text("my notes, not a database\n")
    (directory / "empty.npz").write_bytes(b"")
    (directory / "good.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    (directory / "letters.csv").write_text("a,b,label\n1,2,0\n3,abc,1\n")
    (directory / "ragged.csv").write_text("a,b,label\n1,2,0\n3,1\n")
    (directory / "empty.csv").write_text("")
    (directory / "latin1.csv").write_bytes(b"a,b,label\n1,2,0\n" + "caf\xe9,1,0\n".encode("latin-1"))
    (directory / "binary.csv").write_bytes(bytes(range(256)) * 4)
    np.savez(directory / "scalar.npz", x=np.array(5.0), y=np.array(1))


def _write_bad_arrays(directory: Path, x: np.ndarray, y: np.ndarray) -> None:
    np.savez(directory / "one_class.npz", x=x, y=np.zeros_like(y))
    huge = y.copy()
    huge[0] = 10**9  # one-hot of a billion classes
    np.savez(directory / "huge_label.npz", x=x, y=huge)
    np.savez(directory / "negative_label.npz", x=x, y=np.where(np.arange(len(y)) == 0, -1, y))
    np.savez(directory / "one_hot.npz", x=x, y=np.eye(3)[y])
    np.savez(directory / "text_labels.npz", x=x, y=np.array(["cat", "dog", "eel"])[y])
    np.savez(directory / "test_width.npz", x=x, y=y, xt=np.ones((10, 4)), yt=np.arange(10) % 3)
    np.savez(directory / "images.npz", x=np.random.default_rng(1).uniform(size=(50, 8, 8)), y=y)
    _write_bad_rows(directory, x, y)
    _write_special_files(directory / "special")


def _write_bad_stores(directory: Path, store: bytes) -> None:
    """SQLite files a run cannot track into: cut short, a bare header, another application's tables."""
    (directory / "cut.db").write_bytes(store[: len(store) // 3])  # a partial copy
    (directory / "header_only.db").write_bytes(store[:100])
    with contextlib.closing(sqlite3.connect(directory / "other_app.db")) as other:
        other.execute("CREATE TABLE invoices (id INTEGER)")


def _write_special_files(directory: Path) -> None:
    """Paths that are not regular files (kept apart: reading a pipe waits for a writer)."""
    directory.mkdir()
    os.mkfifo(directory / "pipe.npz")
    (directory / "loop_a.npz").symlink_to("loop_b.npz")
    (directory / "loop_b.npz").symlink_to("loop_a.npz")
    (directory / "gone.npz").symlink_to("nowhere.npz")


def _write_bad_rows(directory: Path, x: np.ndarray, y: np.ndarray) -> None:
    """One bad value each, in a row the shuffled splits move: the message names the file's row."""
    for name, row, column, value in (
        ("nan_row", 37, 2, np.nan),
        ("inf_row", 41, 0, np.inf),
        ("ninf_row", 8, 1, -np.inf),
    ):
        bad = x.copy()
        bad[row, column] = value
        np.savez(directory / f"{name}.npz", x=bad, y=y)
    nan_label = y.astype(float)
    nan_label[29] = np.nan
    np.savez(directory / "nan_label_row.npz", x=x, y=nan_label)
    for name, row, label in (("label_5_row", 44, 5), ("label_negative_row", 19, -2)):
        labels = y.copy()
        labels[row] = label
        np.savez(directory / f"{name}.npz", x=x, y=labels)
    np.savez(directory / "labels_1_2.npz", x=x, y=1 + y % 2)
    targets = x.sum(axis=1)
    targets[13] = np.nan
    np.savez(directory / "nan_target_row.npz", x=x, y=targets)
    lines = ["a,b,label", *(f"{a:.3f},{b:.3f},{int(c)}" for (a, b, _), c in zip(x, y, strict=True))]
    lines[1 + 33] = lines[1 + 33].rsplit(",", 1)[0] + ",9"
    (directory / "label_9_row.csv").write_text("\n".join(lines) + "\n")


def _write_bad_checkpoints(directory: Path, reference: Path) -> None:
    """The reference run's last checkpoint, and copies of it changed one way each."""
    last = reference / "checkpoints" / "last.npz"
    data = last.read_bytes()
    (directory / "last.npz").write_bytes(data)
    (directory / "truncated.npz").write_bytes(data[: len(data) // 2])
    (directory / "weights.npz").write_bytes((reference / "weights.npz").read_bytes())
    arrays = load_npz(last)
    manifest = json.loads(str(arrays["manifest"]))

    def variant(name, **changes):
        changed = {**manifest, **changes}
        np.savez(directory / name, **{**arrays, "manifest": np.array(json.dumps(changed))})

    variant("future.npz", format_version=99)
    np.savez(directory / "manifest_list.npz", **{**arrays, "manifest": np.array(json.dumps([manifest]))})
    np.savez(directory / "manifest_text.npz", **{**arrays, "manifest": np.array("epoch 5, adam")})
    variant("config_list.npz", config=[manifest["config"]])
    variant("components_text.npz", components="adam, mse")
    spoiled = next(key for key in arrays if key.startswith("model/"))
    nan_weights = arrays[spoiled].copy()
    nan_weights.flat[0] = np.nan
    np.savez(directory / "nan_weights.npz", **{**arrays, spoiled: nan_weights})
    inf_weights = nan_weights.copy()
    inf_weights.flat[0] = np.inf
    np.savez(directory / "inf_weights.npz", **{**arrays, spoiled: inf_weights})
    lion = {"kind": "optimizer", "name": "lion", "distribution": "framework-extras", "version": "0.1.0"}
    variant(
        "lion.npz",
        components={**manifest["components"], "optimizer": lion},
        config={**manifest["config"], "optimizer": {"name": "lion", "lr": 0.0001}},
    )
    marker = {"kind": "callback", "name": "marker", "distribution": "reliability-testkit", "version": "0.0.1"}
    variant("with_marker.npz", components={**manifest["components"], "callbacks.marker": marker})
    np.savez(
        directory / "pickled_checkpoint.npz",
        **{**arrays, "callbacks/checkpoint/extra": np.array([object(), object()], dtype=object)},
    )


@pytest.fixture(scope="session")
def files(tmp_path_factory, reference, _template_store) -> Path:
    directory = tmp_path_factory.mktemp("bad-inputs")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 3)), np.arange(50) % 3
    np.savez(directory / "good.npz", x=x, y=y)
    (directory / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip archive")
    np.savez(directory / "pickled.npz", x=np.array([{"a": 1}] * 50, dtype=object), y=y)
    with_nan = x.copy()
    with_nan[3, 1] = np.nan
    np.savez(directory / "nan.npz", x=with_nan, y=y)
    np.savez(directory / "mismatch.npz", x=x, y=y[:40])
    np.savez(directory / "text.npz", x=np.array([["a", "b", "c"]] * 50), y=y)
    np.savez(directory / "fractional.npz", x=x, y=rng.uniform(size=50))
    _write_bad_tables(directory)
    _write_bad_arrays(directory, x, y)
    _write_bad_stores(directory, _template_store.read_bytes())
    (directory / "idx").mkdir()
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (directory / "idx" / f"{name}.gz").write_bytes(b"<html>404 not found</html>")  # an error page saved
    (directory / "no_idx").mkdir()

    conf = directory / "conf" / "experiment"
    conf.mkdir(parents=True)
    (conf / "not_yaml.yaml").write_text("# @package _global_\ntrainer:\n  epochs: [1\n")
    (conf / "conv_model.yaml").write_text("# @package _global_\nmodel:\n  type: conv\n")
    (conf / "text_lr.yaml").write_text("# @package _global_\noptimizer:\n  lr: fast\n")
    (conf / "metrics_text.yaml").write_text("# @package _global_\ntrainer:\n  metrics: accuracy\n")

    _write_bad_checkpoints(directory, reference)
    return directory


# -- running a row ------------------------------------------------------------------------------


def _in_process(case: Bad, files: Path, run_dir: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    """The command's entry point, as ``python -m framework.train`` calls it."""
    from framework.command.entry import main

    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "PGPASSWORD"):
        monkeypatch.delenv(key, raising=False)  # a URI's password moves there: gone again after the row
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "argv", ["framework.train", *case.argv(files), f"hydra.run.dir={run_dir}", *QUIET])
    default_plugins.cache_clear()  # the plugins as this row's environment makes them
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code
    finally:
        default_plugins.cache_clear()
    out, err = capsys.readouterr()
    return code, out, err


def _hashes(*directories: Path) -> dict[Path, str]:
    """Every file below ``directories`` with its SHA-256: what the user had before the command."""
    return {
        path: hashlib.sha256(path.read_bytes()).hexdigest()
        for directory in directories
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _error_line(case: Bad, err: str) -> str:
    """The single ``error:`` line; after the traceback the user asked for, when the row asks for one."""
    lines = [line for line in err.splitlines() if line.strip()]
    if case.traceback:
        assert lines[0] == "Traceback (most recent call last):", err
    else:
        assert "Traceback" not in err
        assert len(lines) == 1, err
    assert lines[-1].startswith("error: "), err
    assert lines[-1].isprintable(), lines[-1]  # no control character reaches the terminal
    return lines[-1]


@pytest.mark.slow  # 218 rows, about 0.4 s each
@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.id for case in BAD_INPUTS])
def test_a_bad_input_is_one_line_naming_the_problem_and_the_fix(
    case, files, tmp_path, monkeypatch, capsys, make_distribution
):
    if case.plugin:
        make_distribution(case.plugin["source"], **{k: v for k, v in case.plugin.items() if k != "source"})
    before = _hashes(files, tmp_path)
    code, out, err = _in_process(case, files, tmp_path / "run", monkeypatch, capsys)
    assert code == 2, err
    assert "Traceback" not in out
    line = _error_line(case, err)
    for expected in case.expect:
        assert expected in line, f"{expected!r} not in {line!r}"
    for secret in case.absent:
        assert secret not in out + err
    assert read_status(tmp_path / "run").get("status") in (None, "FAILED")  # no run finished
    assert not list(tmp_path.rglob("*.tmp"))
    after = _hashes(files, tmp_path)
    assert {path: after.get(path) for path in before} == before  # nothing the user had changed or went away


@pytest.mark.slow
def _site_with(plugin: dict, site: Path) -> Path:
    """A site directory of its own holding the row's plugin distribution (rows must not see each other's)."""
    site.mkdir()
    module = f"plugin_{plugin['entry_point']}"
    (site / f"{module}.py").write_text(textwrap.dedent(plugin["source"]))
    return install(site, plugin["name"], plugin.get("version", "1.2.3"), plugin["entry_point"], module)


def test_in_a_terminal_each_kind_prints_the_same_single_line(files, tmp_path):
    """A sample of rows as real subprocesses (four at a time): exit status 2, one line on
    stderr, the same substrings, no traceback."""
    cases = [case for case in BAD_INPUTS if case.id in IN_A_TERMINAL]

    def run(case):
        sites = [_site_with(case.plugin, tmp_path / f"{case.id}-site")] if case.plugin else []
        run_dir = tmp_path / case.id
        return case, command(*case.argv(files), f"hydra.run.dir={run_dir}", cwd=tmp_path, sites=sites, env=case.env)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, cases))
    for case, result in results:
        assert result.returncode == 2, (case.id, result.stderr)
        line = error_line(result)
        for expected in case.expect:
            assert expected in line, (case.id, expected, line)
        if case.kind == "plugin bug":  # the traceback went to the job's log, which the line names
            log = tmp_path / case.id / "train.log"
            assert f"its traceback is in {log}" in line
            assert "Traceback (most recent call last):" in log.read_text()
