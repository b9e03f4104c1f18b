"""What the benchmark compares. Each contender trains one model configuration on
the same synthetic data with one permutation per epoch, and reports the seconds
of every epoch. Imported by ``worker.py`` in a fresh process per measurement."""

import itertools
import time

import numpy as np


def synthetic_mnist(samples: int, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((samples, 784), dtype=np.float32).astype(dtype, copy=False)
    y = rng.integers(0, 10, size=samples)
    return x, y


def framework_trainer(config, x, y, epochs, tracking_dir=None):
    import framework as fw

    rng = np.random.default_rng(0)
    layers = []
    for width in config["hidden"]:
        layers += [fw.Dense(width, init="he_normal"), fw.ReLU()]
    layers.append(fw.Dense(10))
    model = fw.Sequential(layers, input_shape=(784,), rng=rng, dtype=config["dtype"])
    optimizer = fw.Adam(lr=config["lr"]) if config["optimizer"] == "adam" else fw.SGD(lr=config["lr"])
    callbacks = [_EpochClock()]
    plugins = None
    if tracking_dir is not None:
        from framework.plugins import default_plugins

        plugins = default_plugins()
        logger_class = plugins.get("callback", "mlflow")
        callbacks.append(logger_class(tracking_uri=f"sqlite:///{tracking_dir}/mlflow.db", log_model=False))
    trainer = fw.Trainer(
        model,
        fw.SoftmaxCrossEntropy(),
        optimizer,
        epochs=epochs,
        batch_size=config["batch"],
        rng=rng,
        callbacks=callbacks,
        plugins=plugins,
    )
    trainer.fit(x, y)
    return callbacks[0].seconds


class _EpochClock:
    """Times epochs from the inside, so start-up and data checks are not counted."""

    name = "epoch_clock"

    def __init__(self):
        self.seconds = []

    def framework_epoch_start(self, trainer, epoch):
        self._started = time.perf_counter()

    def framework_epoch_end(self, trainer, epoch, logs):
        self.seconds.append(time.perf_counter() - self._started)

    def state_dict(self):
        return {}


def numpy_loop(config, x, y, epochs):
    """A careful hand-written NumPy loop: what a practitioner would write in a notebook."""
    rng = np.random.default_rng(0)
    dtype = x.dtype
    sizes = [784, *config["hidden"], 10]
    weights = [(rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(dtype) for a, b in itertools.pairwise(sizes)]
    biases = [np.zeros(b, dtype) for b in sizes[1:]]
    params = weights + biases
    adam = config["optimizer"] == "adam"
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lr, b1, b2, eps, t = config["lr"], 0.9, 0.999, 1e-8, 0
    batch = config["batch"]
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            xb, yb = x[idx], y[idx]
            activations = [xb]
            h = xb
            for i, (w, b) in enumerate(zip(weights, biases)):
                h = h @ w + b
                if i < len(weights) - 1:
                    h = np.maximum(h, 0)
                activations.append(h)
            z = h - h.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            grad = p / len(yb)
            grads_w, grads_b = [None] * len(weights), [None] * len(weights)
            for i in range(len(weights) - 1, -1, -1):
                grads_w[i] = activations[i].T @ grad
                grads_b[i] = grad.sum(axis=0)
                if i > 0:
                    grad = (grad @ weights[i].T) * (activations[i] > 0)
            t += 1
            for k, (param, g) in enumerate(zip(params, grads_w + grads_b)):
                if adam:
                    m[k] = b1 * m[k] + (1 - b1) * g
                    v[k] = b2 * v[k] + (1 - b2) * g * g
                    param -= lr * (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps)
                else:
                    param -= lr * g
        seconds.append(time.perf_counter() - started)
    return seconds


def matmul_floor(config, x, y, epochs):
    """Only the matrix products of forward and backward, on preallocated arrays: a floor."""
    rng = np.random.default_rng(0)
    dtype = x.dtype
    sizes = [784, *config["hidden"], 10]
    batch = config["batch"]
    weights = [rng.standard_normal((a, b)).astype(dtype) * 0.01 for a, b in itertools.pairwise(sizes)]
    acts = [np.empty((batch, s), dtype) for s in sizes]
    grads = [np.empty((batch, s), dtype) for s in sizes]
    wgrads = [np.empty_like(w) for w in weights]
    acts[0][...] = x[:batch]
    grads[-1][...] = 0.01
    products = [(acts[i], w, acts[i + 1]) for i, w in enumerate(weights)]
    for i in range(len(weights) - 1, -1, -1):
        products.append((acts[i].T, grads[i + 1], wgrads[i]))
        if i > 0:
            products.append((grads[i + 1], weights[i].T, grads[i]))
    return time_products([products] * (len(x) // batch), epochs)


def time_products(batches, epochs):
    """Seconds of each of ``epochs`` epochs of ``np.matmul(a, b, out=out)`` for every ``(a, b, out)``
    of every batch in ``batches`` (one list of products per batch)."""
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        for products in batches:
            for a, b, out in products:
                np.matmul(a, b, out=out)
        seconds.append(time.perf_counter() - started)
    return seconds


def torch_loop(config, x, y, epochs, fused):
    import torch

    torch.manual_seed(0)
    dtype = torch.float64 if x.dtype == np.float64 else torch.float32
    sizes = [784, *config["hidden"], 10]
    layers = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b, dtype=dtype), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    if config["optimizer"] == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"], fused=fused)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"])
    return torch_epochs(model, optimizer, x, y, config["batch"], epochs)


def torch_epochs(model, optimizer, x, y, batch: int, epochs: int) -> list[float]:
    """Seconds of each epoch of softmax cross-entropy training, one seeded permutation per epoch."""
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, len(xt), batch):
            idx = order[start : start + batch]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(xt[idx]), yt[idx]).backward()
            optimizer.step()
        seconds.append(time.perf_counter() - started)
    return seconds


def forward_throughput(kind, config, x, repeats):
    """Samples per second of evaluation-mode forward passes in batches of ``config['batch']``."""
    batch = config["batch"]
    if kind == "framework":
        import framework as fw

        layers = []
        for width in config["hidden"]:
            layers += [fw.Dense(width), fw.ReLU()]
        model = fw.Sequential([*layers, fw.Dense(10)], input_shape=(784,), rng=np.random.default_rng(0))

        def run():
            model.predict(x, batch_size=batch)
    else:
        import torch

        sizes = [784, *config["hidden"], 10]
        mods = []
        for a, b in itertools.pairwise(sizes):
            mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        net = torch.nn.Sequential(*mods[:-1]).eval()
        xt = torch.from_numpy(x)

        def run():
            with torch.inference_mode():
                for start in range(0, len(xt), batch):
                    net(xt[start : start + batch])

    run()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return [len(x) / s for s in seconds]
