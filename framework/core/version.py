"""The installed framework's version (``framework.__version__``), recorded in checkpoints."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("framework")
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = "0+unknown"
