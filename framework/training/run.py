"""The description of one run: created once, before training, by whoever starts the
run (the command, a script, a notebook), and handed to the Trainer and to every
callback when the fit starts (``framework_fit_start(trainer, run)``).

A callback finds here where the run writes (``output_dir``), what it is called,
whether it continues a checkpoint, the config it was composed from and which plugin
each component came from, without reading any global state."""

import copy
import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from framework.training.checkpoint import Checkpoint


@dataclass(frozen=True)
class ComponentOrigin:
    """Where one component of the run came from: its kind and registry name, the
    plugin distribution (with its version) that registered it, and its qualified name
    (``contrib:adagrad``), which a resumed run uses to pick the same class."""

    kind: str
    name: str
    distribution: str
    version: str | None = None
    qualified: str | None = None

    def __str__(self) -> str:
        source = f"{self.distribution} {self.version}" if self.version else self.distribution
        return f"{self.kind} {self.name!r} from {source}"


@dataclass(frozen=True)
class TrialInfo:
    """The tuning trial a run is: its study and its number there."""

    study: str
    number: int


@dataclass(frozen=True)
class Run:
    """One run. ``components`` maps each component's config label (``optimizer``,
    ``callbacks.checkpoint``, ``logger``) to its origin; ``overrides`` are the
    command-line overrides that made this run differ from the defaults;
    ``job_number`` is its index in a sweep; ``launch_dir`` the directory the run
    was started from (where a local tracking store lives); ``output_paths`` every
    directory the run writes, by the config key that sets it (they differ from job
    to job, so a tracker records them apart from the experiment's params);
    ``trial`` the tuning trial this run is, when a study's sweeper started it;
    ``data`` the loaded data (a ``DataSplits``) once the command has read it, which a
    tracker may record as the run's dataset; ``monitor`` the logged value that decides which
    epoch is best (and that a sweep optimizes), once known; ``plugins`` every plugin loaded for the run, by
    name, with its distribution and version."""

    config: Mapping = field(default_factory=dict)
    output_dir: Path | None = None
    name: str | None = None
    resume_from: Checkpoint | None = None
    components: Mapping[str, ComponentOrigin] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()
    job_number: int | None = None
    launch_dir: Path | None = None
    output_paths: Mapping[str, Path] = field(default_factory=dict)
    trial: TrialInfo | None = None
    data: object | None = None
    monitor: str | None = None
    plugins: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "config", copy.deepcopy(dict(self.config)))  # the run's own, whoever changes theirs
        object.__setattr__(self, "components", dict(self.components))
        object.__setattr__(self, "plugins", dict(self.plugins))
        object.__setattr__(self, "output_paths", dict(self.output_paths))
        object.__setattr__(self, "overrides", tuple(self.overrides))

    @functools.cached_property
    def _scrubbed_config(self) -> dict:
        """The config without secrets (a resume reads only the components, model and data), found once:
        a checkpoint is written every epoch."""
        from framework.training.secrets import scrub

        return scrub(self.config)

    @property
    def resumes(self) -> bool:
        return self.resume_from is not None

    def checkpoint_fields(self) -> dict:
        """What every checkpoint of this run records about it (JSON values)."""
        return {
            "config": copy.deepcopy(self._scrubbed_config),
            "components": {label: asdict(origin) for label, origin in self.components.items()},
            "run_name": self.name,
        }
