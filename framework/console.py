"""Where a run's lines go (the epoch summaries, the data and model description, the
result): in the command, to the ``framework`` logger, which the job's Hydra logging
config sends to the console and to the job's ``train.log``; everywhere else (a
notebook, a script, the command with logging disabled), to standard output.

Failures are printed to standard error by the command; ``to_log_file`` adds them to
the job's log file too, so a failed job's ``train.log`` says why it stopped.
"""

import contextlib
import logging

logger = logging.getLogger("framework")
_through_logging = False


@contextlib.contextmanager
def lines_through_logging():
    """Around the command's job, once Hydra has set up the job's logging."""
    global _through_logging
    previous, _through_logging = _through_logging, True
    try:
        yield
    finally:
        _through_logging = previous


def say(line: str) -> None:
    if _through_logging and logger.isEnabledFor(logging.INFO) and logger.hasHandlers():
        logger.info(line)
    else:
        print(line, flush=True)


def to_log_file(line: str, level: int = logging.ERROR) -> list[str]:
    """Write ``line`` to the log files of the logging set-up only (not the console); returns their paths."""
    record = logger.makeRecord(logger.name, level, __file__, 0, line, None, None)
    files = [handler for handler in logging.getLogger().handlers if isinstance(handler, logging.FileHandler)]
    for handler in files:
        handler.handle(record)
    return [handler.baseFilename for handler in files]


class ConsoleFormatter(logging.Formatter):
    """The framework's lines as they are; other libraries' with their logger's name and level."""

    def __init__(self):
        super().__init__("[%(name)s][%(levelname)s] - %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.name.partition(".")[0] == "framework" and not record.exc_info:
            return record.getMessage()
        return super().format(record)
