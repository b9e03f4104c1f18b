"""Reading and writing ``.npz`` files safely: writes go to a temporary file that is
renamed into place, so a crash never leaves a half-written file; reads never
unpickle, so a file cannot run code."""

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from framework.core.errors import FileFormatError, MissingFileError


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` atomically; object arrays are refused."""
    for key, array in arrays.items():
        if np.asarray(array).dtype.hasobject:
            raise TypeError(
                f"{path}: array {key!r} has dtype object, which would need pickle; store numbers or strings"
            )
    return atomic_write(path, lambda handle: np.savez(handle, **arrays))


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file into memory, without pickle."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise FileFormatError(
            f"{path}: truncated or corrupt .npz file (no zip archive found); restore it or use another copy"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise FileFormatError(
                f"{path}: holds a pickled object array, which is refused because unpickling can run code"
            ) from exc
        raise FileFormatError(f"{path}: not a readable .npz file ({exc})") from exc
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise FileFormatError(
            f"{path}: truncated or corrupt .npz file ({exc}); restore it or use another copy"
        ) from exc
