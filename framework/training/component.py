"""What callbacks and schedules share: a registry name, a config, and a state that
survives a checkpoint so a resumed run continues exactly."""

from typing import ClassVar

from framework.core.describe import describe


class TrainingComponent:
    name: ClassVar[str] = ""

    def state_dict(self) -> dict:
        """What must survive a checkpoint for an exact resume (JSON values or arrays)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def get_config(self) -> dict:
        """Constructor arguments that rebuild an equal component."""
        return {}

    def __repr__(self) -> str:
        return describe(self)
