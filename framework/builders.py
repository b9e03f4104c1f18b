"""From config to objects, through the registries. Every failure becomes one
``ConfigError`` that names the config path, the bad value and what is accepted."""

import inspect
from collections.abc import Mapping

from framework.core.errors import FrameworkError, InvalidValueError
from framework.core.model import Sequential
from framework.plugins import Plugins, UnknownNameError
from framework.plugins.manager import blocked_note

ACTIVATION_INIT = {"relu": "he_normal", "leaky_relu": "he_normal"}


class ConfigError(FrameworkError, ValueError):
    """A config value cannot be used; the message starts with its config path."""


def accepted_arguments(cls) -> tuple[list[str], bool]:
    """Keyword arguments ``cls`` accepts, following ``**kwargs`` up the base classes."""
    names: list[str] = []
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters.values()
        names += [
            p.name for p in parameters if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return list(dict.fromkeys(names)), True
    return list(dict.fromkeys(names)), False


def construct(cls, arguments: Mapping, path: str, **fixed):
    """``cls(**arguments, **fixed)`` with errors turned into ``ConfigError``s about ``path``."""
    accepted, complete = accepted_arguments(cls)
    if complete:
        unknown = [key for key in arguments if key not in accepted]
        if unknown:
            raise ConfigError(
                f"{path}.{unknown[0]}: {cls.__name__} ({getattr(cls, 'name', '')}) takes no argument {unknown[0]!r}; "
                f"it takes: {', '.join(a for a in accepted if a not in fixed) or 'no arguments'}"
            )
    try:
        return cls(**arguments, **fixed)
    except InvalidValueError as exc:
        if exc.argument is not None and exc.argument in arguments:
            raise ConfigError(f"{path}.{exc.argument}={arguments[exc.argument]!r}: {exc}") from exc
        raise ConfigError(f"{path}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {cls.__name__}: {exc}") from exc


def instantiate(plugins: Plugins, kind: str, node, path: str, **fixed):
    """Build a registered component from ``{"name": ..., **arguments}`` (or a bare name)."""
    name_path = path if isinstance(node, str) else f"{path}.name"
    if isinstance(node, str):
        node = {"name": node}
    if not isinstance(node, Mapping) or "name" not in node:
        raise ConfigError(
            f"{path}: expected a {kind} name or a mapping with a 'name' key, got {node!r}; "
            f"available {kind}s: {', '.join(plugins.registry(kind).names())}"
        )
    arguments = {key: value for key, value in node.items() if key != "name"}
    try:
        cls = plugins.get(kind, node["name"])
    except UnknownNameError as exc:
        raise ConfigError(f"{name_path}={node['name']!r}: {exc}{blocked_note()}") from exc
    return construct(cls, _resolve_initializers(plugins, arguments, path), path, **fixed)


def _resolve_initializers(plugins: Plugins, arguments: dict, path: str) -> dict:
    """Layer arguments named ``init`` or ``*_init`` are initializer registry names (or mappings)."""
    resolved = dict(arguments)
    for key, value in arguments.items():
        if (key == "init" or key.endswith("_init")) and value is not None:
            resolved[key] = instantiate(plugins, "initializer", value, f"{path}.{key}")
    return resolved


# -- the model ------------------------------------------------------------------


def layer_nodes(model_cfg: Mapping, output_units: int) -> list[tuple[str, dict]]:
    """The model config as ``(config path, layer node)`` pairs, the MLP shorthand expanded."""
    kind = model_cfg.get("type", "mlp")
    if kind == "sequential":
        layers = model_cfg.get("layers")
        if not isinstance(layers, list) or not layers:
            raise ConfigError(f"model.layers: give a non-empty list of layers, got {layers!r}")
        return [(f"model.layers[{i}]", layer) for i, layer in enumerate(layers)]
    if kind != "mlp":
        raise ConfigError(f"model.type={kind!r}: expected 'mlp' (hidden sizes) or 'sequential' (a list of layers)")
    hidden = model_cfg.get("hidden", [])
    if not isinstance(hidden, list) or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
        raise ConfigError(f"model.hidden={hidden!r}: expected a list of positive layer widths, e.g. [64, 32]")
    activation = model_cfg.get("activation", "relu")
    activation_node = dict(activation) if isinstance(activation, Mapping) else activation
    activation_name = activation_node.get("name") if isinstance(activation_node, Mapping) else activation_node
    init = model_cfg.get("init") or ACTIVATION_INIT.get(activation_name, "glorot_uniform")
    dropout = model_cfg.get("dropout", 0.0)
    nodes = []
    for width in hidden:
        nodes.append(("model.hidden", {"name": "dense", "units": width, "init": init}))
        if model_cfg.get("batch_norm", False):
            nodes.append(("model.batch_norm", {"name": "batch_norm"}))
        nodes.append(("model.activation", activation_node))
        if dropout:
            nodes.append(("model.dropout", {"name": "dropout", "rate": dropout}))
    nodes.append(("model.output", {"name": "dense", "units": output_units, "init": "glorot_uniform"}))
    output_activation = model_cfg.get("output_activation")
    if output_activation:
        node = dict(output_activation) if isinstance(output_activation, Mapping) else {"name": output_activation}
        nodes.append(("model.output_activation", node))
    return nodes


def check_loss_fits_model(loss, model: Sequential, last_path: str) -> None:
    """A loss that takes probabilities cannot follow a linear output layer."""
    if getattr(loss, "input_kind", "any") == "probabilities" and model.layers and model.layers[-1].name == "dense":
        raise ConfigError(
            f"loss={loss.name}: takes probabilities, but {last_path} is a linear dense layer; end the model with a "
            "softmax (model.output_activation=softmax) or use loss=softmax_cross_entropy, which takes logits"
        )


def build_model(
    plugins: Plugins, model_cfg: Mapping, input_shape, output_units: int, data_name: str, rng, loss=None
) -> Sequential:
    nodes = layer_nodes(model_cfg, output_units)
    if model_cfg.get("type", "mlp") == "mlp" and model_cfg.get("init"):
        instantiate(plugins, "initializer", model_cfg["init"], "model.init")
    layers = [instantiate(plugins, "layer", node, path) for path, node in nodes]
    model = construct(Sequential, {"dtype": model_cfg.get("dtype", "float32")}, "model", layers=layers)
    try:
        model.build(input_shape, rng)
    except FrameworkError as exc:
        raise ConfigError(
            f"model: cannot be built for data {data_name!r} with samples of shape {tuple(input_shape)}: {exc}"
        ) from exc
    if model.output_shape != (output_units,):
        raise ConfigError(
            f"{nodes[-1][0]}: the model ends with output shape {model.output_shape} but data {data_name!r} with this loss "
            f"needs ({output_units},); make the last layer {output_units} units wide"
        )
    check_loss_fits_model(loss, model, nodes[-1][0])
    return model
