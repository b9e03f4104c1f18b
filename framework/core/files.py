"""What a path given as a file to read names when it is not one: nothing, a dangling link, a
loop of links, a directory, or a named pipe, socket or device, which reading could wait on
for ever. Each is said in one line before anything opens the path."""

import errno
import stat
from pathlib import Path

from framework.core.errors import FileFormatError, MissingFileError

#: What a special file is, by the ``stat`` test that recognizes it.
SPECIAL_FILES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def check_file_to_read(path: Path, kind: str, missing_fix: str) -> None:
    """Refuse ``path`` unless it names a regular file (through any links); ``kind`` says what it
    should be ("an .npz file"), ``missing_fix`` what to do when there is nothing there."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise MissingFileError(
                f"{path}: a symbolic link to {path.readlink()}, which does not exist; {missing_fix}"
            ) from None
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise MissingFileError(f"{path}: no such file{where}; {missing_fix}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileFormatError(
                f"{path}: a loop of symbolic links (each leads to another, none to a file); point the link at "
                f"{kind}, or give the file's own path"
            ) from exc
        raise FileFormatError(f"{path}: cannot be looked at ({exc.strerror or exc}); check the path") from exc
    if stat.S_ISDIR(mode):
        raise FileFormatError(f"{path}: a directory, not {kind}; give the path of the file itself")
    for test, what in SPECIAL_FILES:
        if test(mode):
            raise FileFormatError(
                f"{path}: {what}, not {kind}; reading it could wait for ever, so give the path of a regular file"
            )
