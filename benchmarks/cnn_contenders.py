"""What the CNN benchmark compares: the framework's image layers and PyTorch CPU training
the same network on the same synthetic MNIST-shaped images, one permutation per epoch,
Adam at lr 1e-3. Each returns the seconds of every epoch. Imported by ``cnn_worker.py``
in a fresh process per measurement."""

import math

import numpy as np

#: name -> convolution blocks (filters, kernel, padding, pool after it) and dense widths.
NETWORKS = {
    "lenet5": {"conv": [(6, 5, 2, 2), (16, 5, 0, 2)], "dense": [120, 84]},
    "wide": {"conv": [(32, 3, 1, 1), (32, 3, 1, 2), (64, 3, 1, 2)], "dense": [128]},
}


def synthetic_images(samples: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((samples, 1, 28, 28), dtype=np.float32)
    return x, rng.integers(0, 10, size=samples)


def framework_layers(network: dict):
    import framework as fw

    layers = []
    for filters, kernel, padding, pool in network["conv"]:
        layers += [fw.Conv2D(filters, kernel, padding=padding, init="he_normal"), fw.ReLU()]
        if pool > 1:
            layers.append(fw.MaxPool2D(pool))
    layers.append(fw.Flatten())
    for width in network["dense"]:
        layers += [fw.Dense(width, init="he_normal"), fw.ReLU()]
    return [*layers, fw.Dense(10)]


def framework_loop(network: dict, x, y, epochs: int, batch: int) -> list[float]:
    from contenders import _EpochClock

    import framework as fw

    rng = np.random.default_rng(0)
    model = fw.Sequential(framework_layers(network), input_shape=x.shape[1:], rng=rng)
    clock = _EpochClock()
    trainer = fw.Trainer(
        model, fw.SoftmaxCrossEntropy(), fw.Adam(lr=1e-3), epochs=epochs, batch_size=batch, rng=rng, callbacks=[clock]
    )
    trainer.fit(x, y)
    return clock.seconds


def torch_model(network: dict):
    import torch

    modules, channels, size = [], 1, 28
    for filters, kernel, padding, pool in network["conv"]:
        modules += [torch.nn.Conv2d(channels, filters, kernel, padding=padding), torch.nn.ReLU()]
        channels, size = filters, size + 2 * padding - kernel + 1
        if pool > 1:
            modules.append(torch.nn.MaxPool2d(pool))
            size //= pool
    modules.append(torch.nn.Flatten())
    features = channels * size * size
    for width in network["dense"]:
        modules += [torch.nn.Linear(features, width), torch.nn.ReLU()]
        features = width
    return torch.nn.Sequential(*modules, torch.nn.Linear(features, 10))


def torch_loop(network: dict, x, y, epochs: int, batch: int) -> list[float]:
    import torch
    from contenders import torch_epochs

    torch.manual_seed(0)
    model = torch_model(network)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return torch_epochs(model, optimizer, x, y, batch, epochs)


def matmul_floor(network: dict, x, y, epochs: int, batch: int) -> list[float]:
    """Only the matrix products the framework's layers compute per training batch, each over the whole
    batch on preallocated arrays (the framework's convolutions split theirs into chunks of samples): a floor.
    The shapes come from the framework's own layers, built for ``x``."""
    from contenders import time_products

    import framework as fw

    model = fw.Sequential(framework_layers(network), input_shape=x.shape[1:], rng=np.random.default_rng(0))
    rng = np.random.default_rng(0)

    def products(size: int) -> list:
        found = []
        for index, layer in enumerate(model.layers):
            if isinstance(layer, fw.Conv2D):
                found += conv_products(layer, size, index > 0, rng)
            elif isinstance(layer, fw.Dense):
                found += dense_products(layer, size, rng)
        return found

    full, rest = divmod(len(x), batch)
    return time_products([products(batch)] * full + ([products(rest)] if rest else []), epochs)


def _filled(rng, *shape):
    return rng.random(shape, dtype=np.float32)


def conv_products(layer, size: int, input_grad: bool, rng) -> list:
    """``(a, b, out)`` of a ``Conv2D``'s forward, weight gradient and (with ``input_grad``) input gradient for
    ``size`` samples, as the layer computes them: the forward by Winograd's products per element of the tile or
    the window matrix's ``weights @ windows``; the weight gradient by Winograd's products, unless the input
    gradient takes col2im, or the window matrix's ``grad @ [windows; ones].T`` (the bias gradient's row of ones);
    the input gradient by the transposed convolution's forward, or col2im's ``weights.T @ grad``."""
    col2im = input_grad and layer._transposed is None
    window = _window_products(layer, size, rng)
    if layer._winograd:
        forward, weight_gradient = _winograd_products(layer, size, rng)
        found = [forward, window[1] if col2im else weight_gradient]
    else:
        found = window[:2]
    if col2im:
        return [*found, window[2]]
    return [*found, _forward_product(layer._transposed, size, rng)] if input_grad else found


def _forward_product(layer, size: int, rng):
    return (_winograd_products if layer._winograd else _window_products)(layer, size, rng)[0]


def _winograd_products(layer, size: int, rng) -> list:
    """Per element of the tile: the forward ``(filters x channels) @ (channels x tiles)``, and the weight gradient's
    ``(filters x tiles) @ (tiles x channels)``."""
    planes, channels, filters = layer._winograd.planes, layer.input_shape[0], layer.filters
    tiles = size * math.prod(layer._winograd.tiles(layer))
    transformed, inputs, grads = (
        _filled(rng, planes, filters, channels),
        _filled(rng, planes, channels, tiles),
        _filled(rng, planes, filters, tiles),
    )
    return [(transformed, inputs, np.empty_like(grads)), (grads, inputs.transpose(0, 2, 1), np.empty_like(transformed))]


def _window_products(layer, size: int, rng) -> list:
    """The window matrix's forward, weight gradient (with the bias's row of ones when the layer has a bias) and
    col2im products."""
    window, filters, columns = layer._window_size, layer.filters, size * layer._positions
    rows = window + (layer.bias is not None)
    weights, windows, grad = _filled(rng, filters, window), _filled(rng, rows, columns), _filled(rng, filters, columns)
    return [
        (weights, windows[:window], np.empty_like(grad)),
        (grad, windows.T, np.empty((filters, rows), np.float32)),
        (weights.T, grad, np.empty((window, columns), np.float32)),
    ]


def dense_products(layer, size: int, rng) -> list:
    """``(a, b, out)`` of a ``Dense`` layer's forward ``x @ W``, weight gradient ``x.T @ grad`` and input
    gradient ``grad @ W.T`` for ``size`` samples."""
    features, units = layer.weight.shape
    x, weight, grad = _filled(rng, size, features), _filled(rng, features, units), _filled(rng, size, units)
    return [(x, weight, np.empty_like(grad)), (x.T, grad, np.empty_like(weight)), (grad, weight.T, np.empty_like(x))]
