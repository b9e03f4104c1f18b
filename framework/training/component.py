"""What callbacks and schedules share: a registry name, a config, a state that
survives a checkpoint so a resumed run continues exactly, and what a run asks of
every component before and after training (the directories it writes, the logged
values it watches, a pre-flight check, a summary). A plugin's component answers
these the same way as a built-in one: the run never looks a component up by name."""

from pathlib import Path
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

    def output_dirs(self) -> dict[str, Path]:
        """Directories this component writes, by the argument that sets each (checked writable before training)."""
        return {}

    def monitors(self) -> dict[str, str]:
        """Logged values this component watches, by the argument that names each (checked before training)."""
        return {}

    def logged_values(self) -> tuple[str, ...]:
        """Names this component adds to each epoch's logs (so other components may monitor them)."""
        return ()

    def preflight(self) -> None:
        """A check before any data loads (a server that must answer, a licence, ...); raise to refuse the run."""

    def artifacts(self) -> dict[str, list[Path]]:
        """Files worth keeping with the run's record once it ends, by the folder to file them under."""
        return {}

    def summary_lines(self) -> list[str]:
        """Lines the run prints at its end (where results went, how to view them)."""
        return []

    def __repr__(self) -> str:
        return describe(self)
