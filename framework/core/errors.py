"""Exceptions of the framework. Each subclasses the built-in it refines, so
``except ValueError`` keeps working for callers who do not know ours."""


class FrameworkError(Exception):
    """Base class of every error the framework raises on purpose."""


class ShapeError(FrameworkError, ValueError):
    """An array does not have the shape a layer or loss expects."""


class InvalidValueError(FrameworkError, ValueError):
    """A hyperparameter or input value is outside what is accepted. ``argument``
    names the constructor argument at fault, when there is one, so a caller that
    built the component from a config can name the config path."""

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


class TooLargeError(InvalidValueError):
    """A size that needs more memory than this machine can give."""


class NotBuiltError(FrameworkError, RuntimeError):
    """A model or layer was used before ``build``."""


class FileFormatError(FrameworkError, ValueError):
    """A file is truncated, corrupt or not of the expected format."""


class MissingFileError(FrameworkError, FileNotFoundError):
    """A file the run needs is not there; the message says where to put it."""


class OutputWriteError(FrameworkError, OSError):
    """A file could not be written (read-only or full disk, a path under a file); the
    message names the file and what to do. Nothing half-written is left behind."""


class ConfigError(FrameworkError, ValueError):
    """A config value cannot be used; the message starts with its config path."""
