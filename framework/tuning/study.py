"""Where a study lives and how a sweep process joins it.

``hydra.sweeper.storage`` is a database URL (anything with ``://``: ``sqlite:///tune.db``,
``postgresql://user@host/db``) or the path of a journal file (on a filesystem every
worker shares). Left null, the study is a journal file in the sweep directory. Several
sweep processes started with the same storage and ``study_name`` fill one study."""

import functools
import time
from dataclasses import dataclass
from pathlib import Path

from framework.core.errors import ConfigError

JOURNAL_FILE = "optuna.journal"
#: The study's user attribute naming the MLflow run all its trials are children of.
PARENT_ATTRIBUTE = "mlflow_parent_run"
#: A trial's user attribute set by the job its pruner stopped (the epoch it stopped after).
PRUNED_ATTRIBUTE = "pruned_after_epoch"
DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class StudySettings:
    """The study a sweep fills: its storage (URL or journal path), name and direction."""

    storage: str
    name: str
    direction: str

    @classmethod
    def from_config(cls, config) -> "StudySettings":
        """From a composed config's ``hydra.sweeper`` (and ``trainer.monitor`` for the direction)."""
        from omegaconf import OmegaConf

        sweeper = config.hydra.sweeper
        storage, name = sweeper.get("storage"), sweeper.get("study_name")
        if storage is None or name is None:
            sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
            storage = storage if storage is not None else sweep_dir / JOURNAL_FILE
            name = name if name is not None else f"{sweep_dir.parent.name}/{sweep_dir.name}"
        storage, name = str(storage), str(name)
        if "://" not in storage:
            storage = str(Path(storage).absolute())
        monitor = str(OmegaConf.select(config, "trainer.monitor", default="val_loss"))
        return cls(storage, name, direction(sweeper.get("direction"), monitor))

    def job_overrides(self) -> list[str]:
        """What each job needs to find the study wherever it runs: the absolute storage and
        the name (a storage URL with a password stays in the config, out of the job's overrides)."""
        from framework.training.secrets import masked
        from framework.tuning.space import as_override

        overrides = [f"hydra.sweeper.study_name={as_override(self.name)}"]
        if masked(self.storage) == self.storage:
            overrides.append(f"hydra.sweeper.storage={as_override(self.storage)}")
        return overrides


def direction(configured, monitor: str) -> str:
    """``minimize`` or ``maximize``: as configured, else as the monitored value improves."""
    if configured is None:
        from framework.training.monitoring import resolve_mode

        return "maximize" if resolve_mode(monitor, "auto", None) == "max" else "minimize"
    if str(configured) not in DIRECTIONS:
        raise ConfigError(
            f"hydra.sweeper.direction: {configured!r} is not a direction; use minimize or maximize "
            f"(or null: from trainer.monitor, here {monitor!r})"
        )
    return str(configured)


@functools.cache
def open_storage(storage: str):
    """Optuna's storage for a database URL or a journal file path; one per process (the sweep's
    tracking callback, its sweeper and jobs run in the same process share it)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    from framework.training.secrets import masked
    from framework.tuning.storage_guard import check_storage_is_the_studys

    try:
        check_storage_is_the_studys(storage)  # before Optuna writes anything
        if "://" in storage:
            return optuna.storages.RDBStorage(storage)
        Path(storage).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(storage))
    except ConfigError:
        raise
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"hydra.sweeper.storage: cannot open {masked(storage)}: {reason}; give a reachable database URL "
            "or the path of a journal file every worker can write"
        ) from exc


def open_study(settings: StudySettings, sampler=None, pruner=None):
    """``(study, created)``: the study, created by this call or joined (``created`` False).
    Creation is atomic in the storage, so of several processes starting at once exactly one
    creates it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # this module says what it does in its own words
    storage = open_storage(settings.storage)
    try:  # loaded first: creating an existing study appends to a journal before it fails
        study = optuna.load_study(study_name=settings.name, storage=storage, sampler=sampler, pruner=pruner)
    except KeyError:
        try:
            study = optuna.create_study(
                storage=storage, study_name=settings.name, direction=settings.direction, sampler=sampler, pruner=pruner
            )
            return study, True
        except optuna.exceptions.DuplicatedStudyError:  # created meanwhile by another process
            study = optuna.load_study(study_name=settings.name, storage=storage, sampler=sampler, pruner=pruner)
    if len(study.directions) != 1 or study.direction.name.lower() != settings.direction:
        raise ConfigError(
            f"hydra.sweeper.direction: study {settings.name!r} was created to "
            f"{' and '.join(d.name.lower() for d in study.directions)}, not to {settings.direction}; "
            "give the same direction, or another hydra.sweeper.study_name"
        )
    return study, False


def shared_parent(study, created: bool, create, exists, wait_seconds: float = 30.0) -> str:
    """The MLflow run id all of ``study``'s trials are children of. The process that created
    the study creates it (``create()`` returns its id); the others wait for it to be recorded.
    A recorded run this tracking store does not have (``exists(run_id)`` False) is replaced."""
    deadline = time.monotonic() + (0 if created else wait_seconds)
    while True:
        recorded = study.user_attrs.get(PARENT_ATTRIBUTE)
        if recorded and exists(recorded):
            return recorded
        if recorded or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    run_id = create()
    study.set_user_attr(PARENT_ATTRIBUTE, run_id)
    return run_id
