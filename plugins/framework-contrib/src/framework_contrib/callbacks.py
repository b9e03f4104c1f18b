"""A callback that writes into the run's own directory."""

from pathlib import Path

from framework import Callback, InvalidValueError


class CsvLogger(Callback):
    """Every epoch's logs as one row of ``<run directory>/<filename>`` (``run.output_dir``;
    the working directory when the run has none). The file is rewritten from
    ``trainer.history`` after each epoch, so a resumed run's file holds every epoch,
    and its columns are every value logged so far (a value missing in an epoch is empty).
    """

    name = "csv_logger"

    def __init__(self, filename: str = "epochs.csv"):
        if not isinstance(filename, str) or not filename or Path(filename).name != filename:
            raise InvalidValueError(
                f"csv_logger: filename must be a plain file name (it is written in the run's directory), "
                f"got {filename!r}",
                "filename",
            )
        self.filename = filename
        self.path: Path | None = None

    def framework_fit_start(self, run):
        self.path = (run.output_dir or Path.cwd()) / self.filename

    def framework_epoch_end(self, trainer):
        epochs = trainer.history.epochs
        columns = list(dict.fromkeys(key for epoch in epochs for key in epoch))
        rows = [",".join(columns)]
        rows += [",".join(_cell(epoch.get(column, "")) for column in columns) for epoch in epochs]
        self.path.write_text("\n".join(rows) + "\n")

    def summary_lines(self):
        return [f"csv_logger: epochs in {self.path}"] if self.path else []

    def get_config(self):
        return {"filename": self.filename}


def _cell(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)
