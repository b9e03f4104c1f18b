"""The base class of callbacks. A callback is a plugin: the trainer registers the
instance with its plugin manager for the length of ``fit``, and every method
named like a lifecycle hookspec (``framework_epoch_end(self, trainer, epoch, logs)``)
is called as that hook. Define only the hooks you need, with only the arguments
you use. See ``framework/training/hookspecs.py`` for the hooks and their order."""

from framework.training.component import TrainingComponent


class Callback(TrainingComponent):
    pass
