import numpy as np
import pytest

from framework.core import (
    SGD,
    Adam,
    BatchNorm,
    Dense,
    Dropout,
    FileFormatError,
    InvalidValueError,
    NotBuiltError,
    ReLU,
    Sequential,
    ShapeError,
    SoftmaxCrossEntropy,
    Tanh,
)


def mlp(seed=0, dtype="float32", input_dim=4):
    layers = [Dense(8), BatchNorm(), ReLU(), Dropout(0.25), Dense(3)]
    return Sequential(layers, input_shape=(input_dim,), rng=np.random.default_rng(seed), dtype=dtype)


def train_steps(model, steps=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16, model.input_shape[0]))
    y = rng.integers(0, 3, size=16)
    loss, optimizer = SoftmaxCrossEntropy(), Adam(lr=0.01)
    for _ in range(steps):
        loss(model.forward(x, training=True), y)
        model.backward(loss.backward())
        optimizer.step(model.flat_parameters())
    return optimizer


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_through_forward_backward_and_update(dtype):
    model = mlp(dtype=dtype)
    optimizer = train_steps(model)
    assert model.forward(np.ones((2, 4))).dtype == np.dtype(dtype)
    for p in model.parameters():
        assert p.value.dtype == np.dtype(dtype) and p.grad.dtype == np.dtype(dtype)
    assert all(a.dtype == np.dtype(dtype) for slots in optimizer.state.values() for a in slots.values())


def test_parameters_are_views_of_one_flat_buffer_under_stable_names():
    model = mlp()
    names = [p.name for p in model.parameters()]
    assert names == [
        "0.dense.weight",
        "0.dense.bias",
        "1.batch_norm.gamma",
        "1.batch_norm.beta",
        "4.dense.weight",
        "4.dense.bias",
    ]
    assert model.count_parameters() == 4 * 8 + 8 + 8 + 8 + 8 * 3 + 3
    (flat,) = model.flat_parameters()
    for p in model.parameters():
        assert np.shares_memory(p.value, flat.value) and np.shares_memory(p.grad, flat.grad)
        assert p.value.ctypes.data % 64 == 0, f"{p.name} is not 64-byte aligned"
    flat.value[:] = 7.0
    assert np.all(model.layers[0].weight.value == 7.0)


def test_same_seed_gives_bit_identical_training():
    first, second = mlp(seed=3), mlp(seed=3)
    train_steps(first)
    train_steps(second)
    assert all(np.array_equal(a.value, b.value) for a, b in zip(first.parameters(), second.parameters()))
    assert not np.array_equal(mlp(seed=4).parameters()[0].value, mlp(seed=3).parameters()[0].value)


def test_weights_round_trip_through_npz(tmp_path):
    model = mlp()
    train_steps(model)
    model.save_weights(tmp_path / "weights.npz")
    clone = mlp(seed=99)
    clone.load_weights(tmp_path / "weights.npz")
    x = np.random.default_rng(5).normal(size=(6, 4))
    assert np.array_equal(model.predict(x), clone.predict(x))
    assert np.array_equal(model.layers[1].running_var, clone.layers[1].running_var)
    assert list(tmp_path.iterdir()) == [tmp_path / "weights.npz"]


def test_loading_weights_of_another_architecture_names_the_difference(tmp_path):
    mlp().save_weights(tmp_path / "w.npz")
    other = Sequential([Dense(8), Tanh(), Dense(3)], input_shape=(4,), rng=np.random.default_rng(0))
    with pytest.raises(ShapeError, match=r"w.npz does not fit this model: missing \[.*'2.dense.weight'"):
        other.load_weights(tmp_path / "w.npz")


def test_pickled_object_arrays_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"0.dense.weight": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(FileFormatError, match="pickled object array, which is refused"):
        mlp().load_weights(path)


def test_truncated_weights_file_is_named(tmp_path):
    path = tmp_path / "w.npz"
    mlp().save_weights(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(FileFormatError, match=r"w.npz: truncated or corrupt"):
        mlp().load_weights(path)


def test_shape_mismatch_names_the_layer_and_both_shapes():
    model = mlp()
    with pytest.raises(
        ShapeError, match=r"layer 0 \(Dense\(units=8\)\) expects inputs of shape \(batch, 4\), got \(2, 5\)"
    ):
        model.forward(np.ones((2, 5)))


def test_a_layer_that_cannot_take_the_previous_output_is_named():
    with pytest.raises(ShapeError, match=r"layer 0 \(Dense\(units=2\)\): Dense expects flat inputs .* got per-sample"):
        Sequential([Dense(2), BatchNorm()], input_shape=(3, 3), rng=np.random.default_rng(0))


def test_predict_refuses_nan_inputs_and_says_where():
    x = np.ones((3, 4))
    x[1, 2] = np.nan
    with pytest.raises(InvalidValueError, match=r"predict: input contains nan at index \(1, 2\)"):
        mlp().predict(x)


def test_predict_in_batches_equals_one_forward_in_eval_mode():
    model = mlp()
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    assert np.allclose(model.predict(x, batch_size=3), model.forward(x), atol=1e-6)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0.0, 1.0]), "1-D labels must be integer class indices, got dtype float64"),
        (np.array([0, 3]), r"label 3 is outside \[0, 3\) for 3 output classes"),
        (np.array([0, 1, 2]), "3 labels for 2 predictions"),
        (np.zeros((2, 2)), r"target shape \(2, 2\) does not fit predictions \(2, 3\)"),
    ],
)
def test_bad_labels_are_explained(labels, message):
    with pytest.raises(ShapeError, match=message):
        SoftmaxCrossEntropy()(np.zeros((2, 3)), labels)


def test_unbuilt_model_says_how_to_build():
    with pytest.raises(NotBuiltError, match=r"call model.build\(input_shape, rng\)"):
        Sequential([Dense(2)]).forward(np.ones((1, 2)))


def test_summary_lists_layers_shapes_and_counts():
    text = mlp().summary()
    assert "Dense(units=8)" in text and "(None, 8)" in text and "40" in text
    assert "83 parameters (float32), input shape (None, 4)" in text


def test_padding_between_parameters_stays_zero_through_training():
    model = mlp()
    train_steps(model, steps=20)
    (flat,) = model.flat_parameters()
    used = np.zeros(flat.size, dtype=bool)
    base = flat.value.ctypes.data
    for p in model.parameters():
        start = (p.value.ctypes.data - base) // flat.value.itemsize
        used[start : start + p.size] = True
    assert not used.all(), "this model has padding to check"
    assert np.all(flat.value[~used] == 0) and np.all(flat.grad[~used] == 0)


def test_backward_without_input_gradient_fills_the_same_parameter_gradients():
    x = np.random.default_rng(1).normal(size=(5, 4))
    grads = []
    for input_grad in (True, False):
        model = mlp(seed=3)
        returned = model.backward(np.ones((5, 3), np.float32) * model.forward(x, training=False), input_grad)
        assert (returned is None) != input_grad
        grads.append(model.flat_parameters()[0].grad.copy())
    assert np.array_equal(*grads)


def test_xor_is_learned_to_full_accuracy():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = Sequential([Dense(8), Tanh(), Dense(2)], input_shape=(2,), rng=np.random.default_rng(0))
    loss, optimizer = SoftmaxCrossEntropy(), SGD(lr=0.5, momentum=0.9)
    for _ in range(300):
        loss(model.forward(x, training=True), y)
        model.backward(loss.backward())
        optimizer.step(model.flat_parameters())
    assert (model.predict(x).argmax(axis=1) == y).all()


@pytest.mark.parametrize("content", [b"", b"\x00\x01abc", b"\x93NUMPY not an archive" * 10])
def test_files_that_are_not_archives_are_called_corrupt_not_pickled(tmp_path, content):
    path = tmp_path / "w.npz"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=r"w.npz: truncated or corrupt .npz file \(no zip archive found\)"):
        mlp().load_weights(path)


def test_a_text_file_given_as_an_npz_is_called_a_text_file(tmp_path):
    path = tmp_path / "w.npz"
    path.write_text("x1,x2,label\n0.5,1.5,0\n")
    with pytest.raises(FileFormatError, match=r"w.npz: a text file \(it begins 'x1,x2,label'\), not an .npz archive"):
        mlp().load_weights(path)


def test_an_unreadable_npz_is_not_called_corrupt(tmp_path, monkeypatch):
    """Permission denied once read "truncated or corrupt ... restore it": advice that may cost a good file."""
    import builtins

    from framework.core.errors import FileFormatError
    from framework.core.npz import load_npz

    path = tmp_path / "weights.npz"
    np.savez(path, w=np.ones(3))
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    with pytest.raises(FileFormatError, match=r"cannot be read \(Permission denied\); check its permissions") as caught:
        load_npz(path)
    assert "corrupt" not in str(caught.value)
    with pytest.raises(FileFormatError, match=r"a directory, not an \.npz file"):
        load_npz(tmp_path)
