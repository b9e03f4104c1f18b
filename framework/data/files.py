"""User data from files: ``npz`` (NumPy archives) and ``csv`` (numeric tables).

When a file gives no test arrays, ``test_fraction`` of its samples is held out as the test
set (a permutation drawn from the generator). Classification labels must be integer class
indices; ``num_classes`` defaults to the largest label + 1.
"""

import csv
import math
from pathlib import Path

import numpy as np

from framework.core.errors import FileFormatError, InvalidValueError
from framework.core.files import check_file_to_read
from framework.core.npz import load_npz
from framework.core.validation import check_positive_int
from framework.data.base import Dataset, RawData, check_fraction, check_task
from framework.data.splits import holdout


class FileDataset(Dataset):
    """Options shared by the file-backed datasets: the file, the task, classes and the test split."""

    def __init__(self, *, path, task="classification", num_classes=None, test_fraction=0.2, **common):
        super().__init__(**common)
        if path is None or str(path) == "":
            raise InvalidValueError(f"{self.name}: the path option is required; give the file to read", "path")
        self.path = str(path)
        self.task = check_task(self.name, task)
        self.num_classes = None if num_classes is None else check_positive_int(self.name, "num_classes", num_classes)
        self.test_fraction = check_fraction(self.name, "test_fraction", test_fraction)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "path": self.path,
            "task": self.task,
            "num_classes": self.num_classes,
            "test_fraction": self.test_fraction,
        }

    def _raw_data(self, rng, x, y, test=None, *, value_range=None, row_word="index", first_row=0) -> RawData:
        """Wrap the arrays read, holding out a test split when ``test`` is None. Samples keep their
        place in the file (``row_word`` ``first_row``, ... for the first, second, ...) for messages."""
        source = str(Path(self.path).expanduser())
        if test is None:
            if len(x) != len(y):
                raise FileFormatError(f"{source}: {len(x)} samples but {len(y)} labels; give one label per sample")
            places = np.arange(len(x))
            kept, _, held, _ = holdout(rng, places, places, self.test_fraction, owner=self.name, option="test_fraction")
            x_test, y_test = x[held], y[held]
            if len(held):  # with none held out, the arrays as read (no copy)
                x, y = x[kept], y[kept]
            test_source = source
        else:
            x_test, y_test, test_source = test
            kept, held = np.arange(len(x)), np.arange(len(x_test))
        return RawData(
            x,
            y,
            x_test,
            y_test,
            task=self.task,
            num_classes=self.num_classes,
            value_range=value_range,
            train_source=source,
            test_source=test_source,
            train_rows=kept + first_row,
            test_rows=held + first_row,
            row_word=row_word,
        )


class NpzDataset(FileDataset):
    """Arrays from an ``.npz`` file: ``x_key``/``y_key`` for training and optional test keys.

    ``x`` may have any per-sample shape; ``uint8`` images count as pixels in [0, 255] for ``scale``.
    """

    name = "npz"

    def __init__(self, *, path=None, x_key="x", y_key="y", x_test_key=None, y_test_key=None, **options):
        super().__init__(path=path, **options)
        if (x_test_key is None) != (y_test_key is None):
            raise InvalidValueError(
                f"{self.name}: give both x_test_key and y_test_key, or neither (to hold out test_fraction); "
                f"got x_test_key={x_test_key!r}, y_test_key={y_test_key!r}",
                "x_test_key" if y_test_key is None else "y_test_key",
            )
        self.x_key, self.y_key = x_key, y_key
        self.x_test_key, self.y_test_key = x_test_key, y_test_key

    def get_config(self) -> dict:
        keys = {"x_key": self.x_key, "y_key": self.y_key, "x_test_key": self.x_test_key, "y_test_key": self.y_test_key}
        return {**super().get_config(), **keys}

    def raw(self, rng) -> RawData:
        path = Path(self.path).expanduser()
        arrays = load_npz(path)
        wanted = [self.x_key, self.y_key] + ([self.x_test_key, self.y_test_key] if self.x_test_key else [])
        for key in wanted:
            if key not in arrays:
                raise FileFormatError(
                    f"{path}: no array named {key!r}; the file holds {sorted(arrays) or 'no arrays'}; "
                    "set x_key/y_key (and x_test_key/y_test_key) to the names in the file"
                )
        for key in wanted:
            if arrays[key].ndim == 0:
                raise FileFormatError(
                    f"{path}: array {key!r} is a single value (shape ()), not one entry per sample; save the "
                    "samples as an array whose first axis counts them"
                )
        x = arrays[self.x_key]
        value_range = (0.0, 255.0) if x.dtype == np.uint8 else None
        test = None
        if self.x_test_key is not None:
            test = (arrays[self.x_test_key], arrays[self.y_test_key], str(path))
        return self._raw_data(rng, x, arrays[self.y_key], test, value_range=value_range)


class CsvDataset(FileDataset):
    """A numeric table: one sample per row, ``label_column`` (name or index) is the target.

    ``header=True`` reads column names from the first row. Every cell must be a finite number.
    """

    name = "csv"

    def __init__(self, *, path=None, label_column=-1, header=True, delimiter=",", **options):
        super().__init__(path=path, **options)
        if isinstance(label_column, bool) or not isinstance(label_column, (int, str)):
            raise InvalidValueError(
                f"{self.name}: label_column must be a column name or index, got {label_column!r}", "label_column"
            )
        if isinstance(label_column, str) and not header:
            raise InvalidValueError(
                f"{self.name}: label_column={label_column!r} is a name, which needs header=True; "
                "give the column index instead",
                "label_column",
            )
        if not isinstance(header, bool):
            raise InvalidValueError(f"{self.name}: header must be true or false, got {header!r}", "header")
        delimiter = TAB if delimiter == ESCAPED_TAB else delimiter
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise InvalidValueError(
                f"{self.name}: delimiter must be one character (\\t for a tab), got {delimiter!r}", "delimiter"
            )
        self.label_column, self.header, self.delimiter = label_column, header, delimiter

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "label_column": self.label_column,
            "header": self.header,
            "delimiter": self.delimiter,
        }

    def raw(self, rng) -> RawData:
        table = read_numeric_csv(Path(self.path).expanduser(), header=self.header, delimiter=self.delimiter)
        self._check_shape(table)
        label = self._label_index(table)
        values = table.values
        x = np.delete(values, label, axis=1)
        return self._raw_data(rng, x, values[:, label], row_word="data row", first_row=1)

    def _check_shape(self, table: "NumericTable") -> None:
        """A header of numbers is a first sample taken for names; a single column leaves no features."""
        named = isinstance(self.label_column, str) and self.label_column in table.columns
        if self.header and not named and all(_is_number(name) for name in table.columns):
            raise FileFormatError(
                f"{table.path}: its first line ({self.delimiter.join(table.columns)}) holds numbers, but "
                "data.header=true reads it as column names and would drop that sample; if the file has no header "
                "row, set data.header=false"
            )
        if table.values.shape[1] == 1:
            hint = _delimiter_hint(table.columns[0], self.delimiter) or (
                f"is data.delimiter={self.delimiter!r} the character between the cells?"
            )
            raise FileFormatError(
                f"{table.path}: one column found ({table.columns[0]!r}), so beside the label there is no feature "
                f"column; {hint}"
            )

    def _label_index(self, table: "NumericTable") -> int:
        width = table.values.shape[1]
        if isinstance(self.label_column, str):
            if self.label_column not in table.columns:
                raise InvalidValueError(
                    f"{table.path}: label_column={self.label_column!r} is not a column; the columns are {table.columns}",
                    "label_column",
                )
            return table.columns.index(self.label_column)
        if not -width <= self.label_column < width:
            raise InvalidValueError(
                f"{table.path}: label_column={self.label_column} is outside the {width} columns; "
                f"give an index in [{-width}, {width})",
                "label_column",
            )
        return self.label_column % width


class NumericTable:
    def __init__(self, path: Path, columns: list[str], values: np.ndarray):
        self.path, self.columns, self.values = path, columns, values


def read_numeric_csv(path: Path, *, header: bool, delimiter: str) -> NumericTable:
    """Parse a CSV of numbers into a float64 array, naming line, column and cell of any bad one."""
    check_file_to_read(path, "a CSV file", "check the path option")
    try:
        return _parse_numeric_csv(path, header=header, delimiter=delimiter)
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); a CSV must be text: "
            "save it as UTF-8 (or check that data.path names the CSV, not a binary file)"
        ) from exc


def _parse_numeric_csv(path: Path, *, header: bool, delimiter: str) -> NumericTable:
    rows = []
    columns = None
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if columns is None:
                columns = [cell.strip() for cell in cells] if header else [f"#{i + 1}" for i in range(len(cells))]
                if header:
                    continue
            if len(cells) != len(columns):
                raise FileFormatError(
                    f"{path}: line {reader.line_num} has {len(cells)} cells but the table has {len(columns)} columns; "
                    f"fix that line (is the delimiter {delimiter!r} right?)"
                )
            rows.append([_number(path, reader.line_num, columns[i], cell, delimiter) for i, cell in enumerate(cells)])
    if not rows:
        raise FileFormatError(f"{path}: no data rows; the file must hold at least one row of numbers")
    return NumericTable(path, columns, np.array(rows, dtype=np.float64))


def _number(path: Path, line: int, column: str, cell: str, delimiter: str) -> float:
    if _is_number(cell):
        return float(cell)
    hint = _delimiter_hint(cell, delimiter)
    if hint is None and line == 1 and column.startswith("#"):
        hint = "line 1 looks like a header row (column names): set data.header=true"
    raise FileFormatError(
        f"{path}: line {line}, column {column!r}: cell {cell!r} is not a finite number; "
        + (hint or "every cell must be numeric (encode categories as numbers, fill or drop missing values)")
    )


TAB, ESCAPED_TAB = "\t", "\\t"
#: Characters that separate cells in CSV files seen in the wild, as Hydra overrides write them.
DELIMITERS = {",": "','", ";": "';'", TAB: "'\\t'", "|": "'|'", " ": "' '"}


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _delimiter_hint(cell: str, delimiter: str) -> str | None:
    """When ``cell`` is numbers (or names) joined by another common delimiter, the override that reads it."""
    for candidate, override in DELIMITERS.items():
        if candidate != delimiter and candidate in cell.strip() and all(part.strip() for part in cell.split(candidate)):
            return (
                f'the cells look separated by {candidate!r}, not {delimiter!r}: set "data.delimiter={override}" '
                "(quoted so for the shell)"
            )
    return None
