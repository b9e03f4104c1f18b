"""The IDX reader: gzip and raw files, every dtype code, and each way a file can be bad."""

import gzip

import numpy as np
import pytest

from framework.core.errors import FileFormatError
from framework.data.idx import read_idx


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_reads_back_what_was_written(tmp_path, write_idx_file, gz, dtype):
    array = (np.arange(2 * 3 * 4) - 7).reshape(2, 3, 4).astype(dtype)
    path = write_idx_file(tmp_path / "a.idx", array, gz=gz)
    loaded = read_idx(path)
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)


def test_big_endian_values_are_decoded(tmp_path):
    # 1-D int16 array [258, -2] written by hand: 0x0102 and 0xfffe.
    path = tmp_path / "b.idx"
    path.write_bytes(bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE]))
    np.testing.assert_array_equal(read_idx(path), [258, -2])


def test_wrong_magic_names_file_and_value(tmp_path, encode_idx):
    path = tmp_path / "page.gz"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(FileFormatError, match="bad magic number 0x3c68746d") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "not an IDX file" in str(info.value)


def test_unknown_type_code(tmp_path, encode_idx):
    data = bytearray(encode_idx(np.zeros(3, np.uint8)))
    data[2] = 0x07
    path = tmp_path / "c.idx"
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=r"unknown IDX type code 0x07 \(known: 0x08"):
        read_idx(path)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_truncated_payload_names_file_and_sizes(tmp_path, encode_idx, gz):
    data = encode_idx(np.zeros((10, 4, 4), np.uint8))[:-7]
    path = tmp_path / "images.idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(FileFormatError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert "truncated" in message
    assert "(10, 4, 4) (160 bytes) but only 153 bytes follow" in message
    assert "download it again" in message


def test_truncated_gzip_stream(tmp_path, encode_idx):
    compressed = gzip.compress(encode_idx(np.arange(1000, dtype=np.int32)))
    path = tmp_path / "labels.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(FileFormatError, match="truncated or corrupt gzip data") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_header(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3, 0, 0, 0, 5]))
    with pytest.raises(FileFormatError, match="declares 3 dimensions but the file ends after 8 bytes"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(FileFormatError, match="only 2 bytes"):
        read_idx(path)


def test_trailing_bytes_are_refused(tmp_path, encode_idx):
    path = tmp_path / "long.idx"
    path.write_bytes(encode_idx(np.zeros(4, np.uint8)) + b"\x00\x00")
    with pytest.raises(FileFormatError, match="2 unexpected bytes after the 4-byte payload"):
        read_idx(path)


def test_expected_number_of_dimensions(tmp_path, write_idx_file):
    path = write_idx_file(tmp_path / "labels.idx", np.zeros((3, 2), np.uint8), gz=False)
    with pytest.raises(FileFormatError, match=r"shape \(3, 2\) \(2 dimensions\), expected 1 dimensions"):
        read_idx(path, expect_ndim=1)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.idx: no such file"):
        read_idx(tmp_path / "nowhere.idx")
