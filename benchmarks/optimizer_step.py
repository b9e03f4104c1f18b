"""Milliseconds per Adam step over the benchmark model's 235,146 parameters, the
compiled kernel against the NumPy path, interleaved: ``python benchmarks/optimizer_step.py``."""

import statistics
import time

import numpy as np

from framework.core import Adam, Parameter, kernels

SIZE = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10


def milliseconds_per_step(optimizer: Adam, parameter: Parameter, steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.step([parameter])
    return (time.perf_counter() - started) / steps * 1e3


def main(rounds: int = 7, steps: int = 200) -> None:
    if not kernels.available():
        raise SystemExit(f"nothing to compare: {kernels.UNAVAILABLE_HINT}")
    rng = np.random.default_rng(0)
    print(f"{'dtype':8s} {'compiled ms':>12s} {'numpy ms':>10s} {'ratio':>7s}")
    for dtype in (np.float32, np.float64):
        times = {True: [], False: []}
        setups = {}
        for fused in (True, False):
            parameter = Parameter("w", (SIZE,), None, rng.standard_normal(SIZE).astype(dtype), np.empty(SIZE, dtype))
            parameter.grad[...] = rng.standard_normal(SIZE)
            setups[fused] = (Adam(fused=fused), parameter)
        for _ in range(rounds):
            for fused in (True, False):
                times[fused].append(milliseconds_per_step(*setups[fused], steps))
        compiled, plain = statistics.median(times[True]), statistics.median(times[False])
        print(f"{np.dtype(dtype).name:8s} {compiled:12.3f} {plain:10.3f} {plain / compiled:7.2f}")


if __name__ == "__main__":
    main()
