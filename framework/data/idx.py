"""Reading IDX files, the format of MNIST and Fashion-MNIST, gzip'd or raw.

An IDX file is two zero bytes, a type code, the number of dimensions, one big-endian
uint32 per dimension, then the values, big-endian, in C order.
"""

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from framework.core.errors import FileFormatError, MissingFileError

#: IDX type code -> big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
REFETCH = "delete it and download it again, or replace it with an intact copy"


def read_idx(path, *, expect_ndim: int | None = None) -> np.ndarray:
    """Return the array stored in the IDX file ``path`` (gzip is detected from the content).

    The result has native byte order; for 1-byte types it is a read-only view of the file's bytes.
    """
    path = Path(path)
    data = _file_bytes(path)
    if len(data) < 4:
        raise FileFormatError(f"{path}: only {len(data)} bytes, less than the 4-byte IDX header; {REFETCH}")
    if data[:2] != b"\x00\x00":
        raise FileFormatError(
            f"{path}: bad magic number 0x{data[:4].hex()}: an IDX file starts with two zero bytes, "
            f"so this is not an IDX file (an error page saved under this name?); {REFETCH}"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{known:02x}" for known in IDX_DTYPES)
        raise FileFormatError(f"{path}: unknown IDX type code 0x{code:02x} (known: {known}); {REFETCH}")
    if ndim == 0:
        raise FileFormatError(f"{path}: IDX header declares 0 dimensions; {REFETCH}")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise FileFormatError(
            f"{path}: truncated: the header declares {ndim} dimensions but the file ends after {len(data)} bytes; "
            f"{REFETCH}"
        )
    shape, dtype = struct.unpack(f">{ndim}I", data[4:header_size]), IDX_DTYPES[code]
    _check_payload(path, shape, dtype, len(data) - header_size)
    if expect_ndim is not None and ndim != expect_ndim:
        raise FileFormatError(
            f"{path}: holds an array of shape {shape} ({ndim} dimensions), expected {expect_ndim} dimensions; "
            "check that the file is the one named (images are 3-D, labels 1-D)"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _check_payload(path: Path, shape: tuple, dtype: np.dtype, actual: int) -> None:
    """The bytes after the header are exactly the values the header announces."""
    expected = math.prod(shape) * dtype.itemsize
    if actual < expected:
        raise FileFormatError(
            f"{path}: truncated: the header announces {dtype.name} values of shape {shape} ({expected} bytes) "
            f"but only {actual} bytes follow; {REFETCH}"
        )
    if actual > expected:
        raise FileFormatError(
            f"{path}: {actual - expected} unexpected bytes after the {expected}-byte payload of shape {shape}; "
            f"the file is corrupt or not IDX; {REFETCH}"
        )


def _file_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file")
    data = path.read_bytes()
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise FileFormatError(f"{path}: truncated or corrupt gzip data ({exc}); {REFETCH}") from exc
