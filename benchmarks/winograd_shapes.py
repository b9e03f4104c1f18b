"""The routes of a 3x3 stride-1 convolution per layer shape: ``python benchmarks/winograd_shapes.py [--repeat 5]``.

For each shape (input channels, filters, image size; padding 1, batch 128, float32, a ReLU fused after it), times
the layer's forward and backward (weight, bias and input gradients) by the window matrix, Winograd F(2x2, 3x3)
and F(4x4, 3x3): best of ``--repeat``, milliseconds of processor time, as ``cnn_layers.py`` does. Set
``OPENBLAS_NUM_THREADS=1`` for one thread. What ``winograd.choose`` decides is from these figures.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn_layers import time_layer

SHAPES = [
    (1, 32, 28),
    (4, 16, 28),
    (8, 8, 28),
    (8, 16, 28),
    (16, 16, 28),
    (16, 32, 28),
    (32, 32, 28),
    (32, 64, 14),
    (64, 32, 14),
    (64, 64, 14),
    (64, 64, 7),
    (64, 64, 6),
    (64, 64, 5),
]


def main() -> None:
    from framework.core import Conv2D, Identity, ReLU, Sequential, winograd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    routes = {"windows": None, "F(2x2)": winograd.F2, "F(4x4)": winograd.F4}
    print("channels -> filters, size: forward / backward ms per batch, " + ", ".join(routes))
    for channels, filters, size in SHAPES:
        rng = np.random.default_rng(0)
        x = rng.random((args.batch, channels, size, size), dtype=np.float32)
        layers = [Identity(), Conv2D(filters, 3, padding=1, init="he_normal"), ReLU()]
        Sequential(layers, input_shape=x.shape[1:], rng=rng, dtype="float32")
        conv, grad = layers[1], rng.standard_normal((args.batch, filters, size, size), dtype=np.float32)
        cells = []
        for scheme in routes.values():
            for layer in (conv, conv._transposed):
                if layer is not None:
                    layer._winograd = scheme
            forward_ms, backward_ms = time_layer(conv, x, grad, args.repeat)
            cells.append(f"{forward_ms:6.2f} / {backward_ms:6.2f}")
        print(f"  {channels:3d} -> {filters:3d}, {size:2d}x{size:<2d}  " + "   ".join(cells))


if __name__ == "__main__":
    main()
