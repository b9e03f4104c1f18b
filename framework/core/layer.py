"""The layer contract.

A layer is built once from its input shape (without the batch axis): ``build``
declares its parameters and returns its output shape. The model then allocates
every parameter as a view into one flat buffer and initializes it. ``forward``
computes the output and keeps what ``backward`` needs; ``backward`` takes the
gradient of the loss with respect to the output, writes the gradients of the
parameters into their ``grad`` arrays (overwriting, not accumulating) and returns
the gradient with respect to the input, unless ``input_grad`` is False (the
model's first layer during training: nothing uses it), when it may return None.
``backward`` may overwrite the ``grad`` it is given: it belongs to the caller's
backward pass, not to the user.
"""

from typing import ClassVar

import numpy as np

from framework.core.describe import describe
from framework.core.parameter import Parameter


class Layer:
    #: Registry name, as written in configs (``dense``).
    name: ClassVar[str] = ""
    #: Constructor arguments the conformance kit builds an example instance with.
    example_config: ClassVar[dict] = {}
    #: Per-sample input shape the conformance kit builds the example with (images: channels-first).
    example_input_shape: ClassVar[tuple[int, ...]] = (4,)
    #: For an activation: the initializer that suits the weights feeding it (``he_normal`` for ReLU).
    preferred_init: ClassVar[str | None] = None
    #: Whether the output is an unbounded linear map of the input (no probabilities).
    is_linear: ClassVar[bool] = False
    #: Whether the output is probabilities (softmax, sigmoid): a loss that takes logits must not follow it.
    outputs_probabilities: ClassVar[bool] = False

    def __init__(self):
        self.parameters: dict[str, Parameter] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None
        self.dtype = np.dtype(np.float32)
        #: Whether ``backward`` must return the input gradient (False for a model's first layer in training).
        self.input_grad = True

    @property
    def built(self) -> bool:
        return self.output_shape is not None

    def setup(self, input_shape: tuple[int, ...], dtype, rng: np.random.Generator) -> tuple[int, ...]:
        """Called by the model: records shapes and dtype, then calls :meth:`build`."""
        self.parameters = {}
        self.buffers = {}
        self.dtype = np.dtype(dtype)
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(self.build(self.input_shape, rng))
        return self.output_shape

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        """Declare parameters with :meth:`add_parameter`; return the output shape."""
        return input_shape

    def add_parameter(self, name: str, shape: tuple[int, ...], initializer) -> Parameter:
        parameter = Parameter(name, tuple(int(n) for n in shape), initializer)
        self.parameters[name] = parameter
        return parameter

    def add_buffer(self, name: str, value: np.ndarray) -> np.ndarray:
        """A non-trainable array that belongs to the layer's state (saved, restored)."""
        self.buffers[name] = np.asarray(value, dtype=self.dtype)
        return self.buffers[name]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fuse_following(self, following: "Layer") -> None:
        """``Sequential.build`` offers each layer the one after it: a layer may take over part of that
        layer's work where this saves a pass over memory (``Conv2D`` applies a following ``ReLU``).
        Default: nothing."""

    def get_config(self) -> dict:
        """Constructor arguments that rebuild an equal layer: ``type(layer)(**config)``."""
        return {}

    def __repr__(self) -> str:
        return describe(self)
