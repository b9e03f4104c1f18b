"""A study's sweep loop, on Optuna's ask-and-tell interface: ask the study for up to
``n_jobs`` trials, launch them as one batch of jobs through the configured launcher, tell
the study how each ended (complete with its value, pruned, or failed), and go on until the
study holds ``n_trials`` trials. Several such loops (on several machines) may fill one study.

The Hydra plugin around it is ``hydra_plugins.framework_tuning.optuna_study``."""

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from optuna.samplers import GridSampler

from framework.core.errors import ConfigError
from framework.tuning.asked import AskedTrials, check_same_space, counted
from framework.tuning.space import SearchSpace, search_space
from framework.tuning.study import PRUNED_ATTRIBUTE, StudySettings, open_study
from framework.tuning.trial import TRIAL_KEY

RESULTS_FILE = "optimization_results.yaml"


class Grid(GridSampler):
    def after_trial(self, study, trial, state, values):
        """Optuna's grid stops its study's optimize loop when done; this loop stops at the grid's size."""


@dataclass
class SweepOptions:
    """``hydra.sweeper``'s settings, the sampler and pruner already made by Hydra."""

    sampler: object
    pruner: object
    n_trials: int
    n_jobs: int
    params: dict | None

    def check(self) -> None:
        for key in ("n_trials", "n_jobs"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"hydra.sweeper.{key}: {value!r} is not a positive whole number; give e.g. 20")


def run_study(options: SweepOptions, arguments: list[str], config, launcher, validate, say=print) -> None:
    """Fill the study ``config`` names with trials (see the module docstring). Before the study
    is asked for any trial, the sweep is checked whole: its space against the one the study's
    trials used, and the overrides of every choice against the config."""
    options.check()
    space = search_space(arguments, options.params)
    if not space.distributions:
        raise ConfigError(
            "hydra.sweeper.params: the study has nothing to search; give a range, e.g. "
            "'optimizer.lr=tag(log, interval(1e-4, 1e-1))' on the command line or in hydra.sweeper.params"
        )
    settings = StudySettings.from_config(config)
    sampler, budget = _sampler(options, space)
    study, _ = open_study(settings, sampler, options.pruner)
    check_same_space(study, space.distributions)
    extra = [*settings.job_overrides()]
    validate([[*space.overrides(values), *extra, f"{TRIAL_KEY}=0"] for values in space.examples()])
    say(_opening_line(study, settings, budget))
    job_number = 0
    with AskedTrials(study, space.distributions) as asked:
        while batch := _ask(asked, budget, options.n_jobs):
            overrides = [[*space.overrides(t.params), *extra, f"{TRIAL_KEY}={t.number}"] for t in batch]
            results = launcher.launch(overrides, initial_job_idx=job_number)
            job_number += len(batch)
            stored = {t.number: t for t in study.get_trials(deepcopy=False)}  # as the jobs left them
            for trial, result in zip(batch, results, strict=True):
                _tell(asked, trial, result, stored[trial.number])
    _report(study, config, say)


def _sampler(options: SweepOptions, space: SearchSpace):
    """The sampler (a grid made from the space's values) and the number of trials to reach."""
    sampler, budget = options.sampler, options.n_trials
    if isinstance(sampler, functools.partial) and sampler.func is GridSampler:
        grid = space.grid()
        sampler = Grid(*sampler.args, search_space=grid, **sampler.keywords)
        budget = min(budget, math.prod(len(values) for values in grid.values()))
    return sampler, budget


def _ask(asked: AskedTrials, budget: int, n_jobs: int) -> list:
    """Up to ``n_jobs`` new trials, while the study (filled by every process) counts fewer than ``budget``."""
    batch = []
    for _ in range(n_jobs):
        if len(counted(asked.study.get_trials(deepcopy=False))) >= budget:
            break
        trial = asked.ask()
        earlier = [t for t in counted(asked.study.get_trials(deepcopy=False)) if t.number < trial.number]
        if len(earlier) >= budget:  # another process asked for the last one at the same moment
            asked.fail(trial, "the study reached n_trials", stopped=True)
            break
        batch.append(trial)
    return batch


def _tell(asked: AskedTrials, trial, result, stored) -> None:
    from hydra.core.utils import JobStatus
    from optuna.trial import TrialState

    if result.status != JobStatus.COMPLETED:
        asked.fail(trial, f"its job failed (see {result.working_dir or 'its run.json'})")
    elif PRUNED_ATTRIBUTE in stored.user_attrs:  # set by the job
        asked.tell(trial, state=TrialState.PRUNED)
    elif isinstance(result.return_value, int | float) and math.isfinite(result.return_value):
        asked.tell(trial, float(result.return_value))
    else:
        asked.fail(trial, f"its job returned {result.return_value!r}, not a finite number")


def _opening_line(study, settings: StudySettings, budget: int) -> str:
    from optuna.trial import TrialState

    from framework.training.secrets import masked

    held = sum(t.state != TrialState.WAITING for t in counted(study.get_trials(deepcopy=False)))
    more = f"{max(budget - held, 0)} more" if held else f"{budget}"
    return (
        f"study {settings.name!r} ({settings.direction}) in {masked(settings.storage)}: "
        f"{held} trial(s) so far, running {more} (n_trials={budget})"
    )


def _report(study, config, say) -> None:
    """The study's counts and best trial, printed and written to the sweep directory."""
    from omegaconf import OmegaConf
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {state: sum(t.state == state for t in trials) for state in TrialState}
    text = ", ".join(f"{n} {state.name.lower()}" for state, n in counts.items() if n)
    say(f"study {study.study_name!r}: {len(trials)} trial(s): {text}")
    results = {"name": study.study_name, "trials": {s.name.lower(): n for s, n in counts.items() if n}}
    if counts[TrialState.COMPLETE]:
        best = study.best_trial
        say(
            f"best: trial {best.number}, value {best.value:.6g}, with "
            + " ".join(f"{k}={v}" for k, v in best.params.items())
        )
        results.update(best_trial=best.number, best_value=best.value, best_params=best.params)
    else:
        say("no trial completed: no best value (see the failed and pruned trials above)")
        results.update(best_trial=None, best_value=None, best_params=None)
    path = Path(str(config.hydra.sweep.dir)) / RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(results), path)
