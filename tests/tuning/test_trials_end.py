"""Every trial a sweep process asks for ends, whatever ends the sweep (an error, Ctrl-C,
SIGTERM): FAIL with the reason, or PRUNED when its job was pruned; never RUNNING. A trial
the sweep stopped does not count toward n_trials: the next sweep runs its values first."""

import functools
import json
import re

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from framework.command.outcome import RunStopped
from framework.core.errors import ConfigError
from framework.tuning.asked import FAIL_REASON_ATTRIBUTE, STOPPED_ATTRIBUTE
from framework.tuning.study import StudySettings
from framework.tuning.sweeper import SweepOptions, run_study
from framework.tuning.trial import OptunaTrial, TrialRef
from tests.commands import start_command, terminate_when
from tests.tuning.studies import journal_study

SPACE = ["optimizer.lr=interval(0.001, 0.1)"]


class Launcher:
    """Runs no job: each ends with the value 0.5, or the launch raises ``stop``."""

    def __init__(self, stop: BaseException | None = None):
        self.stop = stop

    def launch(self, overrides, initial_job_idx):
        if self.stop is not None:
            raise self.stop
        return [JobReturn(overrides=o, status=JobStatus.COMPLETED, _return_value=0.5) for o in overrides]


def sweep(tmp_path, launcher, validate=lambda batch: None, sampler=None, space=SPACE) -> None:
    sweeper = {"storage": str(tmp_path / "study.journal"), "study_name": "s"}
    config = OmegaConf.create({"hydra": {"sweeper": sweeper, "sweep": {"dir": str(tmp_path / "sweep")}}})
    sampler = sampler or optuna.samplers.RandomSampler(seed=0)
    options = SweepOptions(sampler, None, n_trials=3, n_jobs=2, params=None)
    run_study(options, space, config, launcher, validate, say=lambda line: None)


@pytest.mark.parametrize(
    "stop, reason",
    [
        (KeyboardInterrupt(), "the sweep was stopped by SIGINT (Ctrl-C) before this trial ended"),
        (SystemExit(143), "the sweep was stopped by SIGTERM before this trial ended"),
        (RunStopped(143), "the sweep was stopped by SIGTERM before this trial ended"),
        (RuntimeError("disk full"), "the sweep stopped before this trial ended: RuntimeError: disk full"),
    ],
)
def test_whatever_stops_a_sweep_ends_its_trials_and_a_rerun_runs_them(tmp_path, stop, reason):
    with pytest.raises(type(stop)):
        sweep(tmp_path, Launcher(stop))
    study = journal_study(tmp_path / "study.journal")
    stopped = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(stopped) == 2
    assert all(t.user_attrs == {FAIL_REASON_ATTRIBUTE: reason, STOPPED_ATTRIBUTE: True} for t in stopped)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 2 + [TrialState.WAITING] * 2
    sweep(tmp_path, Launcher())
    study = journal_study(tmp_path / "study.journal")
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 3  # n_trials, the stopped ones not counted
    assert [t.params for t in complete[:2]] == [t.params for t in stopped]  # their values run first


def test_a_grid_stopped_and_run_again_covers_every_point(tmp_path):
    grid, space = functools.partial(optuna.samplers.GridSampler, seed=0), ["optimizer.lr=choice(0.01,0.02,0.03)"]
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path, Launcher(KeyboardInterrupt()), sampler=grid, space=space)
    sweep(tmp_path, Launcher(), sampler=grid, space=space)
    complete = [t for t in journal_study(tmp_path / "study.journal").trials if t.state == TrialState.COMPLETE]
    assert sorted(t.params["optimizer.lr"] for t in complete) == [0.01, 0.02, 0.03]


class PrunedThenStopped:
    """The first job of the batch is pruned (it says so in the study, as a job does), then Ctrl-C."""

    def __init__(self, storage: str):
        self.storage = storage

    def launch(self, overrides, initial_job_idx):
        number = int(overrides[0][-1].rpartition("=")[2])  # hydra.sweeper.trial=<number>
        OptunaTrial(TrialRef(StudySettings(self.storage, "s", "minimize"), number, None)).mark_pruned(1)
        raise KeyboardInterrupt


def test_a_trial_its_job_pruned_ends_pruned_when_the_sweep_stops(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path, PrunedThenStopped(str(tmp_path / "study.journal")))
    states = [t.state for t in journal_study(tmp_path / "study.journal").trials]
    assert states == [TrialState.PRUNED, TrialState.FAIL, TrialState.WAITING]


def test_a_space_another_process_recorded_meanwhile_ends_the_asked_trial(tmp_path):
    """Both processes passed the check at once: the second one's trial still ends, FAIL, uncounted."""

    def another_process_starts_the_study(batch):
        study = journal_study(tmp_path / "study.journal")
        lr = FloatDistribution(0.0001, 0.1, log=True)
        study.add_trial(create_trial(params={"optimizer.lr": 0.01}, distributions={"optimizer.lr": lr}, value=0.5))

    clash = re.escape("searches it over tag(log, interval(0.0001, 0.1)), this sweep over interval(0.001, 0.1);")
    with pytest.raises(ConfigError, match=clash):
        sweep(tmp_path, Launcher(), validate=another_process_starts_the_study)
    late = journal_study(tmp_path / "study.journal").trials[-1]
    assert late.state == TrialState.FAIL and late.user_attrs[STOPPED_ATTRIBUTE]


def test_a_sweep_stopped_by_sigterm_leaves_no_trial_running(tmp_path):
    journal = tmp_path / "study.journal"
    process = start_command(
        "-m", "hydra/sweeper=optuna_study", "data=blobs", "trainer.epochs=100000", "callbacks.progress=null",
        "logger=none", *SPACE, f"hydra.sweeper.storage={journal}", "hydra.sweeper.study_name=s",
        "hydra.sweeper.n_trials=2", "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip

    def training() -> bool:
        try:
            return bool(journal_study(journal).trials[0].intermediate_values)
        except (ValueError, IndexError, OSError):  # no study, or no trial, yet
            return False

    terminate_when(process, training, timeout=120)
    assert process.returncode == 143
    trial, *waiting = journal_study(journal).trials
    assert trial.state == TrialState.FAIL and trial.user_attrs[STOPPED_ATTRIBUTE]
    assert trial.user_attrs[FAIL_REASON_ATTRIBUTE] == "the sweep was stopped by SIGTERM before this trial ended"
    assert [t.state for t in waiting] == [TrialState.WAITING]
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["status"] == "KILLED"
