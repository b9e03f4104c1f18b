"""Every hook of the framework, in one place. The docstrings are the contract
(and the source of ``docs/plugins.md``).

A plugin is a module or object with functions named like these specs, marked
with ``@framework.hookimpl``. An implementation may take fewer arguments than
its spec, so a spec can grow without breaking existing plugins.

The specs sit on the training floor, the lowest one that calls hooks; plugin
authors know this module as ``framework.hookspecs``.
"""

import pluggy

hookspec = pluggy.HookspecMarker("framework")
#: Marks a plugin's hook implementations: ``@hookimpl def framework_register_layers(): ...``
#: (public as ``framework.hookimpl``).
hookimpl = pluggy.HookimplMarker("framework")

# ---------------------------------------------------------------------------
# Registration: called once, when the plugin manager builds the registries.
# Call rule for all of them: every implementation is called; the lists are
# merged. A name registered twice is an error that names both plugins.
# ---------------------------------------------------------------------------


@hookspec
def framework_register_layers():
    """Return a list of ``framework.Layer`` subclasses, each with a unique ``name``.

    Activations are layers too. Selectable in configs as ``{name: <name>, ...}``
    in ``model.layers``.
    """


@hookspec
def framework_register_losses():
    """Return a list of ``framework.Loss`` subclasses, each with a unique ``name``.

    Selectable as ``loss=<name>``.
    """


@hookspec
def framework_register_optimizers():
    """Return a list of ``framework.Optimizer`` subclasses, each with a unique ``name``.

    Selectable as ``optimizer=<name>``; their constructor arguments become
    ``optimizer.<argument>`` config keys.
    """


@hookspec
def framework_register_schedules():
    """Return a list of learning-rate ``framework.Schedule`` subclasses, each with a unique ``name``.

    Selectable as ``schedule=<name>``.
    """


@hookspec
def framework_register_callbacks():
    """Return a list of ``framework.Callback`` subclasses, each with a unique ``name``.

    A configured callback is instantiated per run and registered as a plugin, so
    its ``framework_*`` lifecycle methods are called like any other hook
    implementation.
    """


@hookspec
def framework_register_datasets():
    """Return a list of ``framework.data.Dataset`` subclasses, each with a unique ``name``.

    Selectable as ``data=<name>``.
    """


@hookspec
def framework_register_metrics():
    """Return a list of ``framework.Metric`` subclasses, each with a unique ``name``.

    Listed by name in ``trainer.metrics``.
    """


@hookspec
def framework_register_initializers():
    """Return a list of ``framework.Initializer`` subclasses, each with a unique ``name``.

    Usable by name wherever a layer takes an initializer (``init: <name>``).
    """


@hookspec
def framework_config_dirs():
    """Return a list of directories holding Hydra config groups this plugin ships.

    Each directory is added to Hydra's search path, so a file
    ``<dir>/optimizer/lion.yaml`` makes ``optimizer=lion`` selectable and shown
    in ``--help``, with no edit to the project's ``conf/``.
    """


# ---------------------------------------------------------------------------
# Lifecycle: called by the Trainer during ``fit``, in this order:
#   fit_start
#   for each epoch: epoch_start
#       for each batch: batch_start, batch_end
#       validation_end (when there is validation data)
#       epoch_end
#   fit_end        (after a normal finish or an early stop)
#   exception      (instead of fit_end, when training is interrupted by an error,
#                   Ctrl-C or SIGTERM)
# Call rule: every implementation is called, results are ignored. Configured
# callbacks run in the order they are listed, before plugins loaded at start-up
# (a tracker therefore sees what the callbacks changed); ``tryfirst``/``trylast``
# move an implementation to the front or back.
# ---------------------------------------------------------------------------


@hookspec
def framework_fit_start(trainer, run):
    """Before the first epoch. ``run`` describes the run (its config, output
    directory, name, the checkpoint it resumes from, where each component came
    from); it is also ``trainer.run``. On a resume, ``trainer.history`` already
    holds the restored epochs and every callback its restored state."""


@hookspec
def framework_epoch_start(trainer, epoch):
    """Before the first batch of ``epoch`` (counted from 1)."""


@hookspec
def framework_batch_start(trainer, epoch, batch):
    """Before the forward pass of ``batch`` (counted from 0 within the epoch)."""


@hookspec
def framework_batch_end(trainer, epoch, batch, loss):
    """After the optimizer step of ``batch``; ``loss`` is its mean training loss (a float)."""


@hookspec
def framework_validation_end(trainer, epoch, metrics):
    """After evaluating the validation split; ``metrics`` maps ``val_<name>`` to floats.

    Implementations may add entries to ``metrics``.
    """


@hookspec
def framework_epoch_end(trainer, epoch, logs):
    """After the epoch; ``logs`` holds everything recorded for it (``loss``,
    ``val_loss``, metrics, ``lr``, ``seconds``) and is already the last entry of
    ``trainer.history``. Set ``trainer.should_stop = True`` to end training after
    this epoch. Implementations may add entries to ``logs``.
    """


@hookspec
def framework_fit_end(trainer, history):
    """After the last epoch, once training finished normally or stopped early, and
    after the test split was evaluated when ``fit`` was given one.

    ``history`` is the ``framework.History`` returned by ``fit``; ``history.test``
    holds the test results.
    """


@hookspec
def framework_exception(trainer, error):
    """When ``fit`` is interrupted by ``error`` (an exception, ``KeyboardInterrupt``
    on Ctrl-C, or ``framework.Interrupted`` on SIGTERM). The error is re-raised
    after every implementation ran; an error inside an implementation is reported
    and does not hide the original one.
    """
