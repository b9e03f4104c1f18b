"""The compiled Adam kernel: the same bits as the NumPy path, used by the trainer
on its flat buffers, and a clear error when it is asked for but not built."""

import os

import numpy as np
import pytest

import framework as fw
from framework.core import Adam, AdamW, InvalidValueError, Parameter, kernels

needs_kernels = pytest.mark.skipif(not kernels.available(), reason="the compiled kernels are not built here")


def test_kernels_are_built_where_required():
    """CI sets FRAMEWORK_REQUIRE_KERNELS so a failed build cannot pass as a skipped test."""
    if not os.environ.get("FRAMEWORK_REQUIRE_KERNELS"):
        pytest.skip("FRAMEWORK_REQUIRE_KERNELS is not set")
    assert kernels.available(), kernels.UNAVAILABLE_HINT


DEAD = 250  # units whose gradient becomes exactly zero after a few steps


def run_steps(optimizer, dtype, steps=800, size=1000):
    """Random gradients, then a block of dead units whose moments decay towards the flush."""
    rng = np.random.default_rng(0)
    p = Parameter("w", (size,), None, rng.standard_normal(size).astype(dtype), np.zeros(size, dtype))
    for step in range(steps):
        p.grad[...] = rng.standard_normal(size)
        if step >= 5:
            p.grad[:DEAD] = 0
        optimizer.step([p])
    return p.value, optimizer.state["w"]


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("make", "flushed"),
    [
        # (m, v) of dead units flushed to zero by the end? The L2 term keeps their gradient nonzero.
        (lambda fused: Adam(lr=0.01, fused=fused), (True, False)),
        (lambda fused: Adam(lr=0.01, weight_decay=0.1, fused=fused), (False, False)),
        (lambda fused: AdamW(lr=0.01, weight_decay=0.1, fused=fused), (True, False)),
        (lambda fused: Adam(lr=0.3, beta1=0.5, beta2=0.9, eps=1e-3, fused=fused), (True, True)),
    ],
    ids=["adam", "adam-l2", "adamw", "adam-fast-decay"],
)
def test_compiled_and_numpy_paths_give_the_same_bits(make, flushed, dtype):
    compiled_value, compiled_state = run_steps(make(True), dtype)
    numpy_value, numpy_state = run_steps(make(False), dtype)
    assert compiled_value.dtype == dtype
    np.testing.assert_array_equal(compiled_value, numpy_value)
    for slot, slot_flushed in zip(("m", "v"), flushed):
        np.testing.assert_array_equal(compiled_state[slot], numpy_state[slot])
        dead = compiled_state[slot][:DEAD]
        assert (dead == 0).all() == slot_flushed, f"{slot} of dead units: flushed={slot_flushed} expected: {dead[:3]}"


@needs_kernels
def test_the_trainer_runs_adam_through_the_kernel_on_the_flat_buffer(monkeypatch):
    sizes = []
    original = kernels.adam

    def spy(param, *args, **kwargs):
        sizes.append(param.size)
        original(param, *args, **kwargs)

    monkeypatch.setattr(kernels, "adam", spy)
    rng = np.random.default_rng(0)
    model = fw.Sequential([fw.Dense(8), fw.ReLU(), fw.Dense(3)], input_shape=(5,), rng=rng)
    x, y = rng.standard_normal((40, 5)).astype(np.float32), rng.integers(0, 3, 40)
    fw.Trainer(model, fw.SoftmaxCrossEntropy(), fw.Adam(), epochs=2, batch_size=10, rng=rng).fit(x, y)
    (flat,) = model.flat_parameters()
    assert sizes == [flat.value.size] * 8  # one call per batch, over every parameter at once
    assert flat.value.size >= model.count_parameters()


def misaligned_ones(n):
    array = np.frombuffer(bytearray(4 * n + 1), dtype=np.float32, offset=1, count=n)
    array[...] = 1
    assert not array.flags.aligned
    return array


def test_arrays_the_kernel_cannot_take_go_through_numpy():
    """Strided views, misaligned arrays and float16 are updated by the NumPy path, not refused."""
    optimizer, reference = Adam(lr=0.1), Adam(lr=0.1, fused=False)
    for make in (
        lambda: np.ones((4, 4))[:, 1],
        lambda: misaligned_ones(4),
        lambda: np.ones(4, np.float16),
    ):
        p, q = (Parameter("w", (4,), None, make(), np.full(4, 0.5, make().dtype)) for _ in range(2))
        optimizer.state, reference.state = {}, {}
        optimizer.step([p])
        reference.step([q])
        np.testing.assert_array_equal(p.value, q.value)
        assert p.value[0] != 1


def test_fused_true_without_the_kernels_is_refused_with_the_fix(monkeypatch):
    monkeypatch.setattr(kernels, "_kernels", None)
    with pytest.raises(
        InvalidValueError, match=r"AdamW: fused=True, but the compiled kernels .* are not built"
    ) as info:
        AdamW(fused=True)
    assert "pip install -e ." in str(info.value)
    assert info.value.argument == "fused"
    Adam(fused=None).step([Parameter("w", (2,), None, np.ones(2), np.ones(2))])


@needs_kernels
def test_fused_true_refuses_a_parameter_the_kernel_cannot_take():
    p = Parameter("w", (4,), None, np.ones(4, np.float16), np.ones(4, np.float16))
    with pytest.raises(
        InvalidValueError, match="fused=True, but the kernel cannot update a parameter of dtype float16"
    ):
        Adam(fused=True).step([p])


def test_an_out_of_date_compiled_file_is_not_used(monkeypatch):
    """A kernel left by an older checkout (another interface version) counts as not built."""
    import importlib

    import framework.core

    class Old:
        VERSION = kernels.KERNEL_VERSION - 1

    monkeypatch.setitem(__import__("sys").modules, "framework.core._kernels", Old)
    monkeypatch.setattr(framework.core, "_kernels", Old, raising=False)
    try:
        reloaded = importlib.reload(kernels)
        assert not reloaded.available()
        assert "out of date" in reloaded.UNAVAILABLE_HINT
    finally:
        monkeypatch.undo()
        importlib.reload(kernels)


def test_fused_must_be_true_false_or_none():
    with pytest.raises(InvalidValueError, match="Adam: fused must be true, false or null, got 'yes'"):
        Adam(fused="yes")


@needs_kernels
@pytest.mark.parametrize(
    ("arrays", "error", "message"),
    [
        (lambda: [np.ones(3, np.float32), np.ones(3, np.float32), np.ones(3), np.ones(3)], ValueError, "m must have"),
        (lambda: [np.ones(3), np.ones(2), np.ones(3), np.ones(3)], ValueError, "grad must have"),
        (lambda: [np.ones(3, np.int64)] * 4, TypeError, "param must be float32 or float64"),
        (lambda: [np.ones((3, 2))[:, 0]] * 4, TypeError, "param must be a writable C-contiguous"),
    ],
)
def test_the_raw_kernel_refuses_arrays_it_would_misread(arrays, error, message):
    with pytest.raises(error, match=message):
        kernels.adam(
            *arrays(),
            beta1=0.9,
            beta2=0.999,
            eps=1e-8,
            step_size=0.1,
            inv_sqrt_bias2=1.0,
            weight_decay=0.0,
            shrink=1.0,
            tiny=0.0,
        )
