"""framework-extras: an example third-party plugin for the framework.

It contributes, through the ``framework`` entry point (``framework_extras.plugin``):

- layer ``swish``: ``x * sigmoid(beta * x)`` (SiLU when ``beta=1``);
- optimizer ``lion``: the sign-based Lion update;
- callback ``timer``: per-epoch timing in the logs and a summary at the end;
- dataset ``moons``: two interleaved half circles;
- Hydra config groups ``optimizer/lion.yaml`` and ``data/moons.yaml``.

The classes are usable directly too::

    import framework as fw
    from framework_extras import Lion, Swish

    model = fw.Sequential([fw.Dense(16), Swish(), fw.Dense(2)], input_shape=(2,), rng=rng)
"""

from importlib.metadata import PackageNotFoundError, version

from framework_extras.activations import Swish
from framework_extras.callbacks import Timer
from framework_extras.datasets import Moons
from framework_extras.optimizers import Lion

try:
    __version__ = version("framework-extras")
except PackageNotFoundError:  # imported from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["Lion", "Moons", "Swish", "Timer", "__version__"]
