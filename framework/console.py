"""Where a run's lines go (the epoch summaries, the data and model description, the
result): to the ``framework`` logger when logging is set up to show them, as the
command sets it up through Hydra (the console and the job's ``train.log``);
otherwise to standard output, as in a notebook or a script.

Failures are printed to standard error by the command; ``to_log_file`` adds them to
the job's log file too, so a failed job's ``train.log`` says why it stopped.
"""

import logging

logger = logging.getLogger("framework")


def say(line: str) -> None:
    if logger.isEnabledFor(logging.INFO) and logger.hasHandlers():
        logger.info(line)
    else:
        print(line, flush=True)


def to_log_file(line: str, level: int = logging.ERROR) -> None:
    """Write ``line`` to the log files of the logging set-up only (not the console)."""
    record = logger.makeRecord(logger.name, level, __file__, 0, line, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


class ConsoleFormatter(logging.Formatter):
    """The framework's lines as they are; other libraries' with their logger's name and level."""

    def __init__(self):
        super().__init__("[%(name)s][%(levelname)s] - %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.name.partition(".")[0] == "framework" and not record.exc_info:
            return record.getMessage()
        return super().format(record)
