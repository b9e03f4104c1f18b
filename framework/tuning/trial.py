"""The job side of a trial: a job a study's sweeper launched finds its trial in the study's
storage, reports its monitored value after every epoch and asks the study's pruner
whether to go on."""

from dataclasses import dataclass

from framework.training.callbacks.trial_report import TrialReport
from framework.training.run import TrialInfo
from framework.tuning.study import PRUNED_ATTRIBUTE, StudySettings, open_storage

#: Set in each trial's job to its trial number. A ``hydra.`` key: the launchers leave it out of the
#: overrides they print.
TRIAL_KEY = "hydra.sweeper.trial"
SWEEPER_TARGET = "hydra_plugins.framework_tuning.optuna_study.OptunaStudySweeper"


@dataclass(frozen=True)
class TrialRef:
    """Where a job's trial is: the study's settings, the trial's number, the pruner's config."""

    settings: StudySettings
    number: int
    pruner: dict | None

    @classmethod
    def from_hydra(cls, hydra_config) -> "TrialRef | None":
        """The trial of this job, if a study's sweeper launched it."""
        from omegaconf import OmegaConf

        sweeper = OmegaConf.select(hydra_config, "sweeper", default=None)
        if sweeper is None or sweeper.get("_target_") != SWEEPER_TARGET or sweeper.get("trial") is None:
            return None
        wrapped = OmegaConf.create({"hydra": hydra_config, "trainer": {}})
        pruner = sweeper.get("pruner")
        return cls(StudySettings.from_config(wrapped), int(sweeper.trial), pruner and OmegaConf.to_container(pruner))

    @property
    def info(self) -> TrialInfo:
        return TrialInfo(study=self.settings.name, number=self.number)


class OptunaTrial:
    """A running trial of an Optuna study, as :class:`TrialReport` uses it."""

    def __init__(self, ref: TrialRef):
        import optuna
        from hydra.utils import instantiate

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = open_storage(ref.settings.storage)
        pruner = instantiate(ref.pruner) if ref.pruner else optuna.pruners.NopPruner()
        study = optuna.load_study(study_name=ref.settings.name, storage=storage, pruner=pruner)
        study_id = storage.get_study_id_from_name(ref.settings.name)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, ref.number)
        self._trial = optuna.trial.Trial(study, trial_id)

    def report(self, value: float, epoch: int) -> None:
        self._trial.report(value, epoch)

    def should_prune(self) -> bool:
        return self._trial.should_prune()

    def mark_pruned(self, epoch: int) -> None:
        self._trial.set_user_attr(PRUNED_ATTRIBUTE, epoch)


def trial_callbacks(ref: TrialRef | None, monitor: str) -> list:
    """The callback that reports to the job's trial, if the job is one."""
    return [] if ref is None else [TrialReport(OptunaTrial(ref), monitor)]
