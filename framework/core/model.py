"""The sequential model: layers applied in order, parameters in one flat buffer.

After ``build``, every parameter's ``value`` (and ``grad``) is a view into one
contiguous array, so an optimizer can update the whole model in a handful of
array operations (:meth:`Sequential.flat_parameters`) while each layer still
sees its own named arrays (:meth:`Sequential.parameters`).
"""

import numpy as np

from framework.core import parallel
from framework.core.errors import NotBuiltError, ShapeError
from framework.core.layer import Layer
from framework.core.memory import check_fits
from framework.core.npz import load_npz, save_npz
from framework.core.parameter import Parameter
from framework.core.validation import (
    check_finite,
    check_float_dtype,
    check_positive_int,
)

ALIGNMENT = 64


def aligned_zeros(size: int, dtype) -> np.ndarray:
    """A zeroed 1-D array whose first element sits on an ``ALIGNMENT``-byte boundary."""
    dtype = np.dtype(dtype)
    raw = np.zeros(size * dtype.itemsize + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + size * dtype.itemsize].view(dtype)


class Sequential:
    def __init__(
        self, layers: list[Layer], *, input_shape=None, rng: np.random.Generator | None = None, dtype="float32"
    ):
        layers = list(layers)
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {index} is {layer!r}, not a Layer")
        self.layers = layers
        self.dtype = check_float_dtype("Sequential", dtype)
        self.input_shape: tuple[int, ...] | None = None
        self._parameters: list[Parameter] = []
        self._flat: Parameter | None = None
        if input_shape is not None:
            if rng is None:
                raise ValueError("Sequential: pass rng=np.random.default_rng(seed) with input_shape to build the model")
            self.build(input_shape, rng)

    # -- construction ---------------------------------------------------------

    def build(self, input_shape, rng: np.random.Generator) -> "Sequential":
        """Build every layer from the per-sample ``input_shape``, then allocate and
        initialize all parameters from ``rng``, layer by layer in order."""
        if isinstance(input_shape, (int, np.integer)):
            input_shape = (int(input_shape),)
        shape = tuple(check_positive_int("Sequential", "input_shape", n) for n in input_shape)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"Sequential.build: rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self.input_shape = shape
        for index, layer in enumerate(self.layers):
            try:
                shape = layer.setup(shape, self.dtype, rng)
            except ShapeError as exc:
                after = f" after layer {index - 1} ({self.layers[index - 1]!r})" if index else ""
                error = ShapeError(f"layer {index} ({layer!r}){after}: {exc}")
                error.layer_index = index
                raise error from exc
        for layer, following in zip(self.layers, self.layers[1:]):
            layer.fuse_following(following)
        self._allocate(rng)
        return self

    def _allocate(self, rng):
        # Each parameter starts on a 64-byte boundary (BLAS runs faster on aligned rows);
        # the padding between them is zero and never trained.
        named = [
            (f"{i}.{layer.name or type(layer).__name__.lower()}.{pname}", p)
            for i, layer in enumerate(self.layers)
            for pname, p in layer.parameters.items()
        ]
        step = max(1, ALIGNMENT // self.dtype.itemsize)
        offsets, total = [], 0
        for _, p in named:
            offsets.append(total)
            total += -(-p.size // step) * step
        check_fits("Sequential", f"{total:,} parameters with their gradients", 2 * total * self.dtype.itemsize)
        values, grads = aligned_zeros(total, self.dtype), aligned_zeros(total, self.dtype)
        self._parameters = []
        for (name, p), offset in zip(named, offsets):
            p.name = name
            p.value = values[offset : offset + p.size].reshape(p.shape)
            p.grad = grads[offset : offset + p.size].reshape(p.shape)
            p.value[...] = p.initializer(p.shape, rng, self.dtype)
            self._parameters.append(p)
        self._flat = Parameter("all", (total,), None, values, grads)

    @property
    def built(self) -> bool:
        return self.input_shape is not None

    def _require_built(self):
        if not self.built:
            raise NotBuiltError(
                "the model is not built: call model.build(input_shape, rng) or pass input_shape= and rng="
            )

    # -- computation ----------------------------------------------------------

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._require_built()
        x = np.asarray(x)
        if x.shape[1:] != self.input_shape:
            raise ShapeError(
                f"layer 0 ({self.layers[0]!r}) expects inputs of shape (batch, {', '.join(map(str, self.input_shape))}), "
                f"got {x.shape}"
                if self.layers
                else f"model expects per-sample shape {self.input_shape}, got {x.shape}"
            )
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        with parallel.chunk_threads(self._chunked):
            for layer in self.layers:
                x = layer.forward(x, training)
        return x

    @property
    def _chunked(self) -> bool:
        """Whether a layer splits its work into chunks on threads (:mod:`framework.core.parallel`)."""
        return any(getattr(layer, "chunked", False) for layer in self.layers)

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training)

    def backward(self, grad: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Back-propagate ``d loss / d output``; fills every parameter's ``grad`` and
        returns ``d loss / d input`` (None with ``input_grad=False``, which saves the
        first layer's largest product during training). ``grad`` may be overwritten."""
        if self.layers:
            self.layers[0].input_grad = input_grad
        with parallel.chunk_threads(self._chunked):
            for layer in reversed(self.layers):
                grad = layer.backward(grad)
        return grad

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Evaluation-mode outputs for ``x``, computed ``batch_size`` rows at a time."""
        self._require_built()
        batch_size = check_positive_int("predict", "batch_size", batch_size)
        x = np.asarray(x)
        check_finite("predict", "input", x)
        if len(x) == 0:
            return np.empty((0, *self.output_shape), dtype=self.dtype)
        return np.concatenate([self.forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])

    # -- parameters and state -------------------------------------------------

    def parameters(self) -> list[Parameter]:
        """Every parameter under its stable name, e.g. ``"0.dense.weight"``."""
        self._require_built()
        return list(self._parameters)

    def flat_parameters(self) -> list[Parameter]:
        """All parameters as one: a single ``Parameter("all")`` over the flat buffers."""
        self._require_built()
        return [self._flat]

    @property
    def output_shape(self) -> tuple[int, ...]:
        self._require_built()
        return self.layers[-1].output_shape if self.layers else self.input_shape

    def count_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed ``"<i>.<layer>.<name>"``."""
        self._require_built()
        state = {p.name: p.value.copy() for p in self._parameters}
        for i, layer in enumerate(self.layers):
            for bname, buffer in layer.buffers.items():
                state[f"{i}.{layer.name}.{bname}"] = buffer.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], source: str = "state") -> None:
        """Copy arrays into the model in place; names, shapes and dtypes must all match."""
        self._require_built()
        targets = {p.name: p.value for p in self._parameters}
        for i, layer in enumerate(self.layers):
            targets.update({f"{i}.{layer.name}.{b}": buf for b, buf in layer.buffers.items()})
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise ShapeError(
                f"{source} does not fit this model: missing {missing or 'nothing'}, unexpected {unexpected or 'nothing'}"
            )
        for name, target in targets.items():
            array = np.asarray(state[name])
            if array.shape != target.shape:
                raise ShapeError(f"{source}: {name} has shape {array.shape}, the model needs {target.shape}")
            if array.dtype != target.dtype:
                raise ShapeError(f"{source}: {name} has dtype {array.dtype}, the model is {target.dtype}")
        for name, target in targets.items():
            np.copyto(target, state[name])

    def save_weights(self, path) -> None:
        save_npz(path, self.state_dict())

    def load_weights(self, path) -> None:
        self.load_state_dict(load_npz(path), source=str(path))

    def get_config(self) -> dict:
        return {
            "layers": [{"name": layer.name, **layer.get_config()} for layer in self.layers],
            "input_shape": list(self.input_shape) if self.built else None,
            "dtype": self.dtype.name,
        }

    # -- display --------------------------------------------------------------

    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts."""
        self._require_built()
        rows = [("#", "layer", "output shape", "params")]
        for i, layer in enumerate(self.layers):
            count = sum(p.size for p in layer.parameters.values())
            rows.append((str(i), repr(layer), str((None, *layer.output_shape)), f"{count:,}"))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        line = "  ".join("-" * w for w in widths)
        text = [line]
        for k, row in enumerate(rows):
            text.append(
                "  ".join(
                    cell.rjust(w) if c in (0, 3) else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths))
                )
            )
            if k == 0:
                text.append(line)
        text.append(line)
        text.append(
            f"{self.count_parameters():,} parameters ({self.dtype.name}), input shape {(None, *self.input_shape)}"
        )
        return "\n".join(text)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], dtype={self.dtype.name})"
