"""Broken checkpoint files are refused with a FileFormatError that names the file,
both by ``read_checkpoint`` and when resuming ``fit`` from them."""

import json

import numpy as np
import pytest

from framework.core import FileFormatError
from framework.core.npz import load_npz, save_npz
from framework.training.callbacks import ModelCheckpoint
from framework.training.checkpoint import FORMAT_VERSION, read_checkpoint
from tests.training.helpers import blobs, make_trainer

X, Y = blobs(30)


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    directory = tmp_path_factory.mktemp("good")
    make_trainer([ModelCheckpoint(directory)], epochs=1).fit(X, Y)
    return directory / "last.npz"


def assert_refused(path, *fragments):
    with pytest.raises(FileFormatError) as raised:
        read_checkpoint(path)
    for fragment in (str(path), *fragments):
        assert fragment in str(raised.value)
    with pytest.raises(FileFormatError, match=str(path)):  # and through the trainer
        make_trainer(epochs=2).fit(X, Y, resume_from=path)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_checkpoint(good_checkpoint, tmp_path, keep):
    data = good_checkpoint.read_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(data[: int(len(data) * keep)])
    assert_refused(path, "truncated or corrupt")


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    assert_refused(path, "truncated or corrupt")


def test_an_npz_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.npz"
    make_trainer().model.save_weights(path)
    assert_refused(path, "not a framework checkpoint")


def test_an_unsupported_format_version(good_checkpoint, tmp_path):
    arrays = load_npz(good_checkpoint)
    manifest = json.loads(str(arrays["manifest"]))
    manifest["format_version"] = FORMAT_VERSION + 1
    arrays["manifest"] = np.array(json.dumps(manifest))
    path = tmp_path / "future.npz"
    save_npz(path, arrays)
    assert_refused(path, f"version {FORMAT_VERSION + 1}", f"reads 'framework-checkpoint' version {FORMAT_VERSION}")


def test_a_manifest_that_is_not_json(good_checkpoint, tmp_path):
    arrays = load_npz(good_checkpoint)
    arrays["manifest"] = np.array("{not json")
    path = tmp_path / "garbled.npz"
    save_npz(path, arrays)
    assert_refused(path, "not valid JSON")


def test_the_intact_checkpoint_loads(good_checkpoint, tmp_path):
    checkpoint = read_checkpoint(good_checkpoint)
    assert checkpoint.manifest["completed_epochs"] == 1
    history = make_trainer([ModelCheckpoint(tmp_path)], epochs=2).fit(X, Y, resume_from=good_checkpoint)
    assert len(history) == 2
