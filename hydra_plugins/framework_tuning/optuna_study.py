"""``hydra/sweeper=optuna_study``: tune with an Optuna study (Optuna 4 or later) that many
sweep processes may fill together, pruning hopeless trials. The work is done in
:mod:`framework.tuning`; this module only meets Hydra's plugin interface (Hydra finds
plugins in the ``hydra_plugins`` package and imports them at every start, so nothing
heavy is imported here)."""

import sys

from hydra.plugins.sweeper import Sweeper


class OptunaStudySweeper(Sweeper):
    def __init__(self, sampler, pruner=None, direction=None, storage=None, study_name=None, n_trials=20, n_jobs=1,
                 params=None, trial=None):  # fmt: skip
        from framework.tuning.sweeper import SweepOptions

        # direction, storage and study_name are read from the config in setup (jobs read them there too);
        # trial is each job's own (framework.tuning.trial)
        self.options = SweepOptions(sampler=sampler, pruner=pruner, n_trials=n_trials, n_jobs=n_jobs, params=params)
        self.config = None
        self.hydra_context = None
        self.launcher = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        from framework.core.errors import ConfigError
        from framework.tuning.sweeper import run_study

        try:
            run_study(self.options, list(arguments), self.config, self.launcher, self.validate_batch_is_legal)
        except ConfigError as error:  # said in its own words, as the sweep's Hydra callbacks say theirs
            print(f"error: {error}", file=sys.stderr, flush=True)
            raise SystemExit(2) from error
