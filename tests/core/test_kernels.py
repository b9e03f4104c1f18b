"""The compiled kernels agree with plain NumPy and leave the process as they found it."""

import numpy as np
import pytest

from framework.core import Adam, AdamW, InvalidValueError, Parameter, kernels

needs_numba = pytest.mark.skipif(not kernels.numba_available(), reason="numba (the fast extra) is not installed")


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("cls", "weight_decay"), [(Adam, 0.0), (Adam, 0.01), (AdamW, 0.01)])
def test_fused_adam_agrees_with_the_numpy_update(cls, weight_decay, dtype):
    start = np.random.default_rng(0).normal(size=1000).astype(dtype)
    results = []
    for fused in (True, False):
        parameter = Parameter("w", (1000,), None, start.copy(), np.zeros(1000, dtype))
        optimizer = cls(lr=0.01, weight_decay=weight_decay, fused=fused)
        gradients = np.random.default_rng(1)
        for _ in range(50):
            parameter.grad[...] = gradients.normal(size=1000)
            optimizer.step([parameter])
        assert parameter.value.dtype == dtype
        results.append(parameter.value)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert np.allclose(results[0], results[1], rtol=0, atol=tolerance)
    assert not np.array_equal(results[0], start)


def test_fused_true_without_numba_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    with pytest.raises(
        InvalidValueError, match=r"fused=True needs numba; install it with pip install 'framework\[fast\]'"
    ):
        Adam(fused=True)


def test_fused_must_be_a_boolean_or_null():
    with pytest.raises(InvalidValueError, match="fused must be true, false or null"):
        Adam(fused="yes")


STATUS_FLAGS = 0x3F  # sticky exception flags any float operation may set; the mode is the rest


def mode() -> int:
    return kernels.mxcsr() & ~STATUS_FLAGS


@pytest.mark.skipif(kernels.mxcsr() is None, reason="MXCSR is only readable on x86 with numba")
def test_flush_denormals_sets_ftz_and_daz_inside_and_restores_after():
    tiny = np.array([1e-39], dtype=np.float32)
    before = mode()
    with kernels.flush_denormals() as active:
        assert active
        assert mode() & 0x8040 == 0x8040
        assert (tiny * np.float32(0.5))[0] == 0.0
    assert mode() == before
    assert (tiny * np.float32(0.5))[0] != 0.0


@pytest.mark.skipif(kernels.mxcsr() is None, reason="MXCSR is only readable on x86 with numba")
def test_flush_denormals_restores_the_mode_after_an_error():
    before = mode()
    with pytest.raises(RuntimeError), kernels.flush_denormals():
        raise RuntimeError("boom")
    assert mode() == before


def test_kernels_can_be_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv(kernels.DISABLE_ENV, "1")
    with kernels.flush_denormals() as active:
        assert not active
