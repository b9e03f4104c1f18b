"""Per-layer timings of the CNN benchmark's networks: ``python benchmarks/cnn_layers.py [--repeat 7]``.

Builds LeNet-5 and the wide network of ``cnn.py``, runs one training batch of 128
synthetic images through them once, then times each layer's forward and backward on
those fixed inputs and gradients (best of ``--repeat``, milliseconds of processor time: with one
thread, what other processes on the machine take matters less than wall time; ``--wall``: wall time,
each layer splitting its work among as many threads as BLAS has, as in training). Set
``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) before starting it to fix the thread
count. It measures one layer at a time, so two versions can be compared with less noise
than whole epochs on a shared machine.
"""

import argparse
import sys
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn_contenders import NETWORKS, framework_layers, synthetic_images

from framework.core import parallel


def layer_inputs(model, x):
    """Each layer's input and output gradient for one training batch of ``x``."""
    inputs = []
    for layer in model.layers:
        inputs.append(x)
        x = layer.forward(x, training=True)
    grads, grad = [], np.ones_like(x) / x.size
    model.layers[0].input_grad = False
    for layer in reversed(model.layers):
        grads.append(grad.copy(order="K"))
        grad = layer.backward(grad)
    return inputs, grads[::-1]


def time_layer(layer, x, grad, repeat: int, timer=time.process_time) -> tuple[float, float]:
    """Best-of-``repeat`` milliseconds (of ``timer``) of ``layer``'s forward, then its backward (after its forward)."""

    def forward():
        layer.forward(x, training=True)

    def fresh_grad():
        return grad.copy(order="K")  # in its memory order: channel-major between image layers

    def backward():
        layer.backward(fresh_grad())

    def best(function):
        return min(timeit.repeat(function, number=1, repeat=repeat, timer=timer))

    copy_time, forward_time = best(fresh_grad), best(forward)
    forward()
    backward_time = best(backward) - copy_time
    return 1000 * forward_time, 1000 * backward_time


def main() -> None:
    import framework as fw

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--networks", nargs="*", default=list(NETWORKS))
    parser.add_argument("--wall", action="store_true", help="wall time, the chunks on as many threads as BLAS has")
    args = parser.parse_args()
    x, _ = synthetic_images(args.batch)
    timer, clock = (time.perf_counter, "wall time") if args.wall else (time.process_time, "processor time")
    for name in args.networks:
        model = fw.Sequential(framework_layers(NETWORKS[name]), input_shape=x.shape[1:], rng=np.random.default_rng(0))
        with parallel.chunk_threads(args.wall):
            inputs, grads = layer_inputs(model, x)
            timings = [time_layer(*arguments, args.repeat, timer) for arguments in zip(model.layers, inputs, grads)]
        total = 0.0
        print(f"{name}: milliseconds of {clock} per batch of {args.batch}, forward / backward")
        for index, (layer, (forward_ms, backward_ms)) in enumerate(zip(model.layers, timings)):
            total += forward_ms + backward_ms
            print(f"  {index:2d} {layer!r:45s} {forward_ms:8.2f} {backward_ms:8.2f}")
        print(f"  total {total:.1f} ms")


if __name__ == "__main__":
    main()
