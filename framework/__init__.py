"""A NumPy training framework with plugins, Hydra configs and MLflow tracking.

The numerical core and the trainer are re-exported here for notebook use::

    import numpy as np
    import framework as fw

    rng = np.random.default_rng(0)
    model = fw.Sequential([fw.Dense(16), fw.ReLU(), fw.Dense(3)], input_shape=(2,), rng=rng)
"""

from framework.core import *  # noqa: F403
from framework.core import __all__ as _core_all
from framework.core.validation import check_bool, check_float_dtype, check_number, check_positive_int
from framework.core.version import VERSION as __version__
from framework.training import hookspecs
from framework.training.callback import Callback
from framework.training.history import History
from framework.training.hookspecs import hookimpl
from framework.training.interrupts import Interrupted
from framework.training.schedules import Schedule
from framework.training.trainer import Trainer, TrainerSettings

__all__ = [
    "__version__",
    "hookimpl",
    "hookspecs",
    *_core_all,
    "Callback",
    "History",
    "Interrupted",
    "Schedule",
    "Trainer",
    "TrainerSettings",
    "check_bool",
    "check_float_dtype",
    "check_number",
    "check_positive_int",
]
