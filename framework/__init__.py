"""A NumPy training framework with plugins, Hydra configs and MLflow tracking.

The numerical core is re-exported here for notebook use::

    import numpy as np
    import framework as fw

    model = fw.Sequential([fw.Dense(16), fw.ReLU(), fw.Dense(3)], input_shape=(2,), rng=np.random.default_rng(0))
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

from framework.core import *  # noqa: F403
from framework.core import __all__ as _core_all

try:
    __version__ = version("framework")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

#: Marks a plugin's hook implementations: ``@hookimpl def framework_register_layers(): ...``
hookimpl = pluggy.HookimplMarker("framework")

__all__ = ["__version__", "hookimpl", *_core_all]
