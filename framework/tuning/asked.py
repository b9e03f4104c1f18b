"""The trials a sweep process asks a study for, and the promise that each of them ends.

A trial left RUNNING would stay so forever and count toward ``n_trials``. So whatever ends
a sweep early (an error, Ctrl-C, SIGTERM: all reach the sweep as exceptions), every trial
it asked for and has not told ends: PRUNED if its job was pruned, else FAIL with the reason,
marked stopped by the sweep. A stopped trial does not count toward ``n_trials``; its values
wait in the study for the next sweep (a grid's point is run again, not skipped)."""

import contextlib
import signal

from framework.core.errors import ConfigError
from framework.tuning.space import describe
from framework.tuning.study import PRUNED_ATTRIBUTE

#: A failed trial's user attribute: why it failed.
FAIL_REASON_ATTRIBUTE = "fail_reason"
#: True on a trial the sweep ended before its job did (or before launching it): not counted.
STOPPED_ATTRIBUTE = "stopped_by_sweep"


def counted(trials) -> list:
    """The trials that count toward ``n_trials``: all but those a sweep stopped."""
    return [t for t in trials if not t.user_attrs.get(STOPPED_ATTRIBUTE)]


def check_same_space(study, distributions: dict) -> None:
    """Refuse a sweep whose space for a parameter is not the one the study's trials used (its
    first trial's: a trial that lost a race to another space was asked later)."""
    recorded = {}
    for trial in study.get_trials(deepcopy=False):
        for key, distribution in trial.distributions.items():
            recorded.setdefault(key, distribution)
    for key, ours in distributions.items():
        theirs = recorded.get(key)
        if theirs is not None and theirs != ours:
            raise ConfigError(
                f"{key}: the study {study.study_name!r} searches it over {describe(theirs)}, this sweep over "
                f"{describe(ours)}; use the same space, or another hydra.sweeper.study_name"
            )


def suggest(trial, key: str, distribution):
    """Optuna's ``suggest_*`` for ``distribution``: the trial's value of ``key``."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(key, distribution.choices)
    number = trial.suggest_int if isinstance(distribution, IntDistribution) else trial.suggest_float
    return number(key, distribution.low, distribution.high, step=distribution.step, log=distribution.log)


class AskedTrials:
    """The trials this process asked ``study`` for and has not told yet (a context manager:
    leaving it by an exception ends them, see the module docstring)."""

    def __init__(self, study, distributions: dict):
        self.study = study
        self.distributions = distributions
        self.open: dict[int, object] = {}

    def ask(self):
        """A new trial with a value for every parameter."""
        trial = self.study.ask()
        self.open[trial.number] = trial
        try:
            for key, distribution in self.distributions.items():
                suggest(trial, key, distribution)
        except ValueError:  # another process started the study over another space at the same moment
            check_same_space(self.study, self.distributions)
            raise
        return trial

    def tell(self, trial, value: float | None = None, state=None) -> None:
        self.study.tell(trial, value, state=state, skip_if_finished=True)
        self.open.pop(trial.number, None)

    def fail(self, trial, reason: str, stopped: bool = False) -> None:
        """End ``trial`` FAIL with ``reason``; ``stopped``: not counted toward ``n_trials``."""
        from optuna.trial import TrialState

        trial.set_user_attr(FAIL_REASON_ATTRIBUTE, reason)
        if stopped:
            trial.set_user_attr(STOPPED_ATTRIBUTE, True)
        self.tell(trial, state=TrialState.FAIL)

    def __enter__(self) -> "AskedTrials":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if error is not None and self.open:
            with contextlib.suppress(Exception):  # a storage gone too: the error that ended the sweep comes first
                self._end_open(why_stopped(error))

    def _end_open(self, reason: str) -> None:
        from optuna.trial import TrialState

        stored = {t.number: t for t in self.study.get_trials(deepcopy=False)}
        for number, trial in list(self.open.items()):
            if PRUNED_ATTRIBUTE in stored[number].user_attrs:  # set by its job
                self.tell(trial, state=TrialState.PRUNED)
                continue
            self.fail(trial, reason, stopped=True)
            if len(trial.params) == len(self.distributions):
                self.study.enqueue_trial(trial.params, skip_if_exists=False)


def why_stopped(error: BaseException) -> str:
    """A stopped trial's fail reason: what ended the sweep."""
    if isinstance(error, KeyboardInterrupt):
        return "the sweep was stopped by SIGINT (Ctrl-C) before this trial ended"
    code = getattr(error, "exit_code", getattr(error, "code", None))  # the command's RunStopped, SystemExit
    if isinstance(code, int) and code - 128 in set(signal.valid_signals()):
        return f"the sweep was stopped by {signal.Signals(code - 128).name} before this trial ended"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"the sweep stopped before this trial ended: {type(error).__name__}" + (f": {text}" if text else "")
