"""Reading and writing ``.npz`` files safely: writes go to a temporary file that is
renamed into place, so a crash never leaves a half-written file; reads never
unpickle, so a file cannot run code.

A process killed in the middle of a write (``kill -9``, a power cut) leaves its
temporary file behind, never a damaged target. Temporary files are named
``.<name>.<pid>.<random>.tmp``; :func:`remove_stale_temporaries` deletes those
whose writing process is gone (the checkpoint callback and a resume call it)."""

import contextlib
import errno
import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from framework.core.errors import FileFormatError, OutputWriteError
from framework.core.files import check_file_to_read

_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp")
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
#: Errors of the file system (not, say, of a download the write callback makes).
_FILE_SYSTEM = _FULL | {
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.ENOENT,
    errno.EIO,
    errno.EFBIG,
    errno.ENAMETOOLONG,
    errno.EEXIST,
}


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it to ``path``.

    An ``OSError`` of the file system (a read-only or full disk, a path under a file) becomes an
    :class:`~framework.core.errors.OutputWriteError` naming ``path``; the temporary
    file is removed and a previous ``path`` is left as it was."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                Path(tmp).unlink(missing_ok=True)
        if is_file_system_error(exc) and not isinstance(exc, OutputWriteError):
            raise write_error(path, exc) from exc
        raise
    return path


def is_file_system_error(error: BaseException) -> bool:
    """Whether ``error`` comes from the file system (full, read-only, missing, not allowed)."""
    return isinstance(error, OSError) and error.errno in _FILE_SYSTEM


def write_error(path: Path, error: OSError) -> OutputWriteError:
    """One clear line for a failed write: the file, the reason, what to do."""
    reason = error.strerror or str(error) or type(error).__name__
    if error.errno in _FULL:
        fix = "free some space on that disk, or write to another directory (with the command: hydra.run.dir=<dir>)"
    else:
        fix = "make that directory writable, or write to another directory (with the command: hydra.run.dir=<dir>)"
    failed = OutputWriteError(f"cannot write {path}: {reason} (errno {error.errno}); {fix}")
    failed.errno = error.errno  # (strerror and filename would change how the message prints)
    return failed


def remove_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files in ``directory`` left by writes whose process is gone
    (killed mid-write); a file of a live process is kept. Returns what was deleted."""
    directory = Path(directory)
    removed = []
    if not directory.is_dir():
        return removed
    for candidate in directory.glob(".*.tmp"):
        match = _TEMPORARY.fullmatch(candidate.name)
        if match is None or _alive(int(match["pid"])):
            continue
        try:
            candidate.unlink()
        except OSError:
            continue
        removed.append(candidate)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` atomically; object arrays are refused."""
    for key, array in arrays.items():
        if np.asarray(array).dtype.hasobject:
            raise TypeError(
                f"{path}: array {key!r} has dtype object, which would need pickle; store numbers or strings"
            )
    return atomic_write(path, lambda handle: np.savez(handle, **arrays))


def _check_readable(path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise FileFormatError(
            f"{path}: cannot be read ({exc.strerror or exc}); check its permissions: the file itself may be intact, "
            "so do not delete it"
        ) from exc


def _text_start(path: Path) -> str | None:
    """The first line of a file that holds text (UTF-8, no control characters but line ends), else None."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip() or any(not char.isprintable() and char not in "\r\n\t" for char in text):
        return None
    return text.splitlines()[0][:60]


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file into memory, without pickle."""
    path = Path(path)
    check_file_to_read(path, "an .npz file", "check the path, or create the file first")
    _check_readable(path)
    if not zipfile.is_zipfile(path):
        text = _text_start(path)
        if text is not None:
            raise FileFormatError(
                f"{path}: a text file (it begins {text!r}), not an .npz archive; give an .npz file "
                "(a CSV is read by data=csv)"
            )
        raise FileFormatError(
            f"{path}: truncated or corrupt .npz file (no zip archive found); restore it or use another copy"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise FileFormatError(
                f"{path}: holds a pickled object array, which is refused because unpickling can run code; "
                "save numeric (or string) arrays instead, e.g. np.savez(path, x=np.asarray(x, dtype=float))"
            ) from exc
        raise FileFormatError(f"{path}: not a readable .npz file ({exc})") from exc
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise FileFormatError(
            f"{path}: truncated or corrupt .npz file ({exc}); restore it or use another copy"
        ) from exc
