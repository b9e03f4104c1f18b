"""User data: ``npz`` archives and ``csv`` tables, including each bad-input message."""

import numpy as np
import pytest

from framework.core.errors import FileFormatError, InvalidValueError
from framework.data import CsvDataset, NpzDataset

RNG = np.random.default_rng


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


# --- npz ---


def test_npz_with_test_arrays(tmp_path):
    x = np.arange(40, dtype=np.float64).reshape(10, 4)
    path = write_npz(tmp_path / "d.npz", a=x, b=np.arange(10) % 3, at=x[:4] + 100, bt=np.array([2, 1, 0, 2]))
    splits = NpzDataset(path=path, x_key="a", y_key="b", x_test_key="at", y_test_key="bt", val_fraction=0.2).load(
        RNG(0)
    )
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (8, 2, 4)
    np.testing.assert_array_equal(splits.x_test, x[:4] + 100)  # no known range: not scaled
    assert splits.num_classes == 3 and splits.y_test.dtype == np.int64


def test_npz_test_arrays_must_have_the_training_features(tmp_path):
    path = write_npz(tmp_path / "d.npz", x=np.zeros((4, 3)), y=np.zeros(4), xt=np.zeros((2, 5)), yt=np.zeros(2))
    with pytest.raises(FileFormatError, match=r"test samples have shape \(5,\) but training samples \(3,\)"):
        NpzDataset(path=path, x_test_key="xt", y_test_key="yt").load(RNG(0))


def test_npz_without_test_arrays_holds_out_test_fraction(tmp_path):
    path = write_npz(tmp_path / "d.npz", x=np.arange(50.0)[:, None], y=np.arange(50) % 2)
    splits = NpzDataset(path=path, test_fraction=0.2, val_fraction=0.1).load(RNG(0))
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (36, 4, 10)
    everything = np.concatenate([splits.x_train, splits.x_val, splits.x_test])[:, 0]
    np.testing.assert_array_equal(np.sort(everything), np.arange(50.0))  # each sample in exactly one split


def test_npz_uint8_images_are_scaled_as_pixels(tmp_path):
    images = np.full((6, 3, 3), 255, np.uint8)
    path = write_npz(tmp_path / "img.npz", x=images, y=np.zeros(6, np.int64))
    splits = NpzDataset(path=path, val_fraction=0.0, test_fraction=0.5).load(RNG(0))
    assert splits.x_train.max() == 1.0 and splits.input_shape == (9,)


@pytest.mark.parametrize(
    "stored, kept",
    [((5, 4, 3), (1, 4, 3)), ((5, 2, 4, 3), (2, 4, 3))],
    ids=["single-channel images get a channel axis", "channels-first images kept"],
)
def test_npz_images_keep_their_shape_without_flatten(tmp_path, stored, kept):
    images = np.random.default_rng(0).integers(0, 256, size=stored).astype(np.uint8)
    path = write_npz(tmp_path / "img.npz", x=images, y=np.arange(5) % 2)
    splits = NpzDataset(path=path, flatten=False, val_fraction=0.0, test_fraction=0.0).load(RNG(0))
    assert splits.input_shape == kept and splits.x_train.shape == (5, *kept)
    np.testing.assert_array_equal(np.sort((splits.x_train * 255).round().ravel()), np.sort(images.ravel()))


def test_npz_missing_key_names_file_key_and_keys_present(tmp_path):
    path = write_npz(tmp_path / "d.npz", features=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(FileFormatError) as info:
        NpzDataset(path=path, x_key="features", y_key="y").load(RNG(0))
    message = str(info.value)
    assert str(path) in message
    assert "no array named 'y'" in message
    assert "['features', 'labels']" in message


def test_npz_test_keys_come_in_pairs(tmp_path):
    with pytest.raises(InvalidValueError, match="give both x_test_key and y_test_key"):
        NpzDataset(path=tmp_path / "d.npz", x_test_key="x_test")


def test_npz_negative_label_names_file_and_label(tmp_path):
    path = write_npz(tmp_path / "d.npz", x=np.zeros((5, 2)), y=np.array([0, 1, -3, 1, 0]))
    with pytest.raises(FileFormatError) as info:
        NpzDataset(path=path, val_fraction=0.0, test_fraction=0.0).load(RNG(0))
    assert str(path) in str(info.value)
    assert "label -3 at index 2 is negative" in str(info.value)


def test_npz_label_beyond_num_classes(tmp_path):
    path = write_npz(tmp_path / "d.npz", x=np.zeros((5, 2)), y=np.array([0, 1, 2, 1, 7]))
    with pytest.raises(FileFormatError, match=r"label 7 at index 4 is not below the number of classes \(3\)"):
        NpzDataset(path=path, num_classes=3, val_fraction=0.0, test_fraction=0.0).load(RNG(0))


def test_npz_fractional_classification_label(tmp_path):
    path = write_npz(tmp_path / "d.npz", x=np.zeros((3, 2)), y=np.array([0.0, 1.5, 1.0]))
    with pytest.raises(FileFormatError, match=r"label 1.5 at index 1 is not a whole number.*task='regression'"):
        NpzDataset(path=path, val_fraction=0.0, test_fraction=0.0).load(RNG(0))


def test_npz_sample_and_label_counts_must_agree(tmp_path):
    path = write_npz(tmp_path / "d.npz", x=np.zeros((5, 2)), y=np.zeros(4))
    with pytest.raises(FileFormatError, match="5 samples but 4 labels") as info:
        NpzDataset(path=path).load(RNG(0))
    assert str(path) in str(info.value)


def test_npz_regression_targets(tmp_path):
    path = write_npz(tmp_path / "d.npz", x=np.zeros((10, 2)), y=np.linspace(0, 1, 10))
    splits = NpzDataset(path=path, task="regression", dtype="float64").load(RNG(0))
    assert splits.task == "regression" and splits.num_classes is None
    assert splits.y_train.shape == (7, 1) and splits.y_val.shape == (1, 1) and splits.y_test.shape == (2, 1)
    assert splits.y_train.dtype == np.float64


def test_npz_refuses_pickled_arrays(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(FileFormatError, match="pickled object array"):
        NpzDataset(path=path).load(RNG(0))


def test_npz_rejects_unknown_task(tmp_path):
    with pytest.raises(InvalidValueError, match="task must be one of classification, regression, got 'clustering'"):
        NpzDataset(path=tmp_path / "d.npz", task="clustering")


# --- csv ---


def test_csv_with_header_and_label_name(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,label,b\n1,0,2\n3,1,4\n\n5,1,6\n7,0,8\n")
    splits = CsvDataset(path=path, label_column="label", val_fraction=0.0, test_fraction=0.25).load(RNG(0))
    rows = np.concatenate([splits.x_train, splits.x_test])
    labels = np.concatenate([splits.y_train, splits.y_test])
    order = np.argsort(rows[:, 0])
    np.testing.assert_array_equal(rows[order], [[1, 2], [3, 4], [5, 6], [7, 8]])
    np.testing.assert_array_equal(labels[order], [0, 1, 1, 0])


def test_csv_without_header_with_delimiter_and_index(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("0.5;2\n1.5;0\n2.5;1\n")
    splits = CsvDataset(path=path, header=False, delimiter=";", label_column=1, val_fraction=0, test_fraction=0).load(
        RNG(0)
    )
    np.testing.assert_array_equal(splits.x_train[:, 0], [0.5, 1.5, 2.5])
    np.testing.assert_array_equal(splits.y_train, [2, 0, 1])
    assert splits.num_classes == 3


def test_csv_non_numeric_cell_names_file_line_column_and_cell(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("height,width,label\n1.0,2.0,0\n1.5,two,1\n")
    with pytest.raises(FileFormatError) as info:
        CsvDataset(path=path).load(RNG(0))
    message = str(info.value)
    assert f"{path}: line 3, column 'width': cell 'two' is not a finite number" in message


def test_csv_missing_value_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n1,0\nnan,1\n")
    with pytest.raises(FileFormatError, match=r"line 3, column 'x': cell 'nan' is not a finite number"):
        CsvDataset(path=path).load(RNG(0))


def test_csv_row_with_wrong_number_of_cells(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n1,0\n2;1\n")
    with pytest.raises(FileFormatError, match="line 3 has 1 cells but the table has 2 columns"):
        CsvDataset(path=path).load(RNG(0))


def test_csv_unknown_label_column_lists_the_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n1,0\n")
    with pytest.raises(
        InvalidValueError, match=r"label_column='target' is not a column; the columns are \['x', 'y'\]"
    ) as info:
        CsvDataset(path=path, label_column="target").load(RNG(0))
    assert info.value.argument == "label_column"


def test_csv_label_out_of_range_names_file_and_label(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n1,0\n2,1\n3,4\n")
    with pytest.raises(FileFormatError) as info:
        CsvDataset(path=path, num_classes=2, val_fraction=0, test_fraction=0).load(RNG(0))
    assert str(path) in str(info.value)
    assert "label 4 at data row 3" in str(info.value)  # the third row under the header


def test_csv_label_name_needs_a_header():
    with pytest.raises(InvalidValueError, match="needs header=True"):
        CsvDataset(path="t.csv", header=False, label_column="y")


def test_file_datasets_need_a_path():
    with pytest.raises(InvalidValueError, match="the path option is required"):
        CsvDataset()
