"""A test-only installed plugin whose lifecycle hook fails: ``framework_epoch_end``
raises at epoch 2 (loaded through a temporary ``.dist-info`` entry point named
``dashboard`` of the distribution ``faulty-dashboard``)."""

from framework import hookimpl


@hookimpl
def framework_epoch_end(trainer, epoch):
    if epoch == 2:
        raise ConnectionError("dashboard.example is unreachable")
