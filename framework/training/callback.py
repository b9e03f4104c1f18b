"""The base class of callbacks. A callback is a plugin: the trainer registers the
instance with its plugin manager for the length of ``fit``, and every method
named like a lifecycle hookspec (``framework_epoch_end(self, trainer, epoch, logs)``)
is called as that hook. Define only the hooks you need, with only the arguments
you use. See ``framework/hookspecs.py`` for the hooks and their order."""

from typing import ClassVar

from framework.core.describe import describe


class Callback:
    name: ClassVar[str] = ""

    def state_dict(self) -> dict:
        """What must survive a checkpoint for an exact resume (JSON values or arrays)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return describe(self)
