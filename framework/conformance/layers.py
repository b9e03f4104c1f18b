"""``check_layer`` and ``check_loss``: the gradient checks and config round trip of the kit,
plus what a layer promises the model: dtype kept, gradients assigned (not added), an
evaluation pass that draws nothing at random."""

import copy

import numpy as np

from framework.conformance._assert import fail, label
from framework.conformance.gradients import check_layer_gradients, check_loss_gradients
from framework.core.layer import Layer
from framework.core.losses import Loss
from framework.core.model import Sequential


def check_layer(
    layer: Layer, input_shape: tuple[int, ...] | None = None, *, seed: int = 0, tolerance: float = 1e-6
) -> None:
    """Check ``layer`` (an unbuilt instance) on samples of ``input_shape`` (by default its
    class's ``example_input_shape``: ``(4,)``, or a channels-first image shape):

    - input and parameter gradients match central differences (float64, training mode);
    - ``type(l)(**l.get_config())`` rebuilds it, computing the same outputs with the same weights;
    - in a float32 model its outputs, parameters and gradients stay float32;
    - ``backward`` assigns each parameter's gradient, in place: two backward passes give the
      same gradient, in the array the model allocated (a view of its flat buffer);
    - ``forward(x, training=False)`` twice gives the same output.
    """
    owner = label(layer)
    if not isinstance(layer, Layer):
        fail(owner, "does not subclass framework.Layer")
    input_shape = tuple(layer.example_input_shape if input_shape is None else input_shape)
    check_layer_gradients(type(layer)(**layer.get_config()), input_shape, seed=seed, tolerance=tolerance)
    check_config_round_trip(type(layer)(**layer.get_config()))
    rng = np.random.default_rng(seed)
    model = Sequential([type(layer)(**layer.get_config())], input_shape=input_shape, rng=rng, dtype="float32")
    x = rng.normal(size=(3, *input_shape)).astype(np.float32)
    replay = copy.deepcopy(rng.bit_generator.state)  # the same dropout mask in both passes
    output = model.forward(x, training=True)
    upstream = np.ones_like(output)
    model.backward(upstream.copy())
    given = {p.name: p.grad for p in model.parameters()}
    first = {p.name: p.grad.copy() for p in model.parameters()}
    rng.bit_generator.state = replay
    model.forward(x, training=True)
    model.backward(upstream.copy())
    _check_float32(owner, output, model)
    for parameter in model.parameters():
        if parameter.grad is not given[parameter.name]:
            fail(owner, f"backward replaced the array {parameter.name}.grad; write into it (parameter.grad[...] = ...)")
        if not np.allclose(parameter.grad, first[parameter.name]):
            fail(owner, f"backward adds to {parameter.name}.grad; assign it (parameter.grad[...] = ...)")
    if not np.array_equal(model.forward(x, training=False), model.forward(x, training=False)):
        fail(owner, "forward(x, training=False) gives different outputs for the same input")


def _check_float32(owner: str, output: np.ndarray, model: Sequential) -> None:
    if output.dtype != np.float32:
        fail(owner, f"turned float32 inputs into {output.dtype} outputs; compute in self.dtype")
    for parameter in model.parameters():
        if parameter.value.dtype != np.float32 or parameter.grad.dtype != np.float32:
            fail(owner, f"parameter {parameter.name} is not float32 in a float32 model")


def check_loss(loss: Loss, **gradient_options) -> None:
    """Check ``loss``: its gradient against central differences (``check_loss_gradients``
    takes the same options), a finite float value, and the config round trip."""
    owner = label(loss)
    if not isinstance(loss, Loss):
        fail(owner, "does not subclass framework.Loss")
    check_loss_gradients(loss, **gradient_options)
    check_config_round_trip(loss)


def check_config_round_trip(component) -> None:
    """``type(c)(**c.get_config())`` must give an equal config (and, for a layer, the
    same outputs with the same weights, on samples of its ``example_input_shape``)."""
    config = component.get_config()
    clone = type(component)(**config)
    if clone.get_config() != config:
        raise AssertionError(
            f"{type(component).__name__}: config does not round-trip: {config} -> {clone.get_config()}"
        )
    if isinstance(component, Layer):
        rng = np.random.default_rng(0)
        shape = component.example_input_shape
        first = Sequential([component], input_shape=shape, rng=np.random.default_rng(1), dtype="float64")
        second = Sequential([clone], input_shape=shape, rng=np.random.default_rng(2), dtype="float64")
        second.load_state_dict(first.state_dict())
        x = rng.normal(size=(3, *shape))
        if not np.array_equal(first.forward(x), second.forward(x)):
            raise AssertionError(f"{type(component).__name__}: a clone with the same weights computes other outputs")
