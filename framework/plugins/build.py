"""The run's components from its config, through the registries: optimizer, loss,
dataset, schedule, callbacks and logger before any data loads; the metrics and the
model once the data says its task and shape. Also where each component came from."""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from framework.core.errors import ConfigError, FrameworkError, TooLargeError
from framework.core.model import Sequential
from framework.core.validation import check_float_dtype
from framework.plugins import Plugins
from framework.plugins.construct import construct, instantiate, registered_class
from framework.training.run import ComponentOrigin, Run
from framework.training.trainer import TrainerSettings

DEFAULT_METRICS = {"classification": ["accuracy"], "regression": ["mse", "mae"]}
DEFAULT_INIT = "glorot_uniform"


@dataclass
class Components:
    """What the config names, built before any data loads. ``callbacks`` maps each
    one's config label (``callbacks.checkpoint``, ``schedule``, ``logger``) to it,
    in the order they run; the logger runs last, so at an interruption the
    checkpoint is written before the run is marked KILLED."""

    optimizer: object
    loss: object
    dataset: object
    schedule: object
    callbacks: dict = field(default_factory=dict)


def build_components(
    plugins: Plugins, nodes: Mapping[str, tuple[str, dict]], model_cfg: Mapping, trainer_arguments: Mapping, metrics
) -> Components:
    """The components the config's ``nodes`` (:attr:`JobConfig.nodes`) name, with the schedule's own
    callback (when it has one) before the configured callbacks; the trainer's settings
    (``trainer_arguments``), the model's dtype and the names of its layers and ``metrics`` are
    checked too, all before any data loads."""
    check_settings(model_cfg, trainer_arguments)
    built = {label: instantiate(plugins, kind, node, label) for label, (kind, node) in nodes.items()}
    components = Components(built.pop("optimizer"), built.pop("loss"), built.pop("data"), built.pop("schedule"))
    scheduler = components.schedule.callback()
    if scheduler is not None:
        components.callbacks[f"callbacks.{scheduler.name}"] = scheduler
    components.callbacks.update(built)
    check_model_and_metric_names(plugins, model_cfg, metrics)
    return components


def check_settings(model_cfg: Mapping, arguments: Mapping) -> None:
    """The trainer's numbers ``arguments`` (``batch_size: full`` stays for the data to decide) and the
    model's dtype."""
    full_batch = arguments.get("batch_size") == "full"
    construct(TrainerSettings, {**arguments, **({"batch_size": 1} if full_batch else {})}, "trainer")
    if "dtype" in model_cfg:
        construct(_ModelDtype, {"dtype": model_cfg["dtype"]}, "model")


class _ModelDtype:
    def __init__(self, dtype):
        check_float_dtype("model", dtype)


def with_components(run: Run, plugins: Plugins, names: Mapping, components: Components) -> Run:
    """``run`` with where each component came from, and every directory a callback writes, by config key."""
    written = {
        f"{label}.{argument}": Path(directory)
        for label, callback in components.callbacks.items()
        for argument, directory in callback.output_dirs().items()
    }
    origins = component_origins(plugins, names, components)
    return replace(run, components=origins, output_paths={**run.output_paths, **written})


def component_origins(plugins: Plugins, names: Mapping, components: Components) -> dict[str, ComponentOrigin]:
    """Registry name and plugin distribution of each of the run's components, by config label
    (``names``: :meth:`JobConfig.names`)."""
    named = dict(names)
    named.update(
        {
            label: ("callback", plugins.qualified_name("callback", callback) or callback.name)
            for label, callback in components.callbacks.items()
        }
    )
    origins = {}
    for label, (kind, name) in named.items():
        if name in plugins.registry(kind):
            entry = plugins.registry(kind).entry(name)
            origins[label] = ComponentOrigin(
                kind, entry.name, entry.origin.distribution, entry.origin.version, entry.qualified
            )
    return origins


def check_model_and_metric_names(plugins: Plugins, model_cfg: Mapping, metrics) -> None:
    """Every layer and metric the config names is registered (and not ambiguous), before any data
    loads; they are built once the data says its shape and task."""
    for path, node in layer_nodes(plugins, model_cfg, output_units=1):
        registered_class(plugins, "layer", node, path)
    for index, node in enumerate(metrics if isinstance(metrics, list) else []):
        registered_class(plugins, "metric", node, f"trainer.metrics[{index}]")


def build_metrics(plugins: Plugins, names, task: str) -> list:
    if names == "auto" or names is None:
        names = DEFAULT_METRICS[task]
    if not isinstance(names, list):
        raise ConfigError(f"trainer.metrics={names!r}: expected 'auto' or a list of metric names")
    metrics = [instantiate(plugins, "metric", node, f"trainer.metrics[{i}]") for i, node in enumerate(names)]
    for i, metric in enumerate(metrics):
        if metric.task not in ("any", task):
            raise ConfigError(f"trainer.metrics[{i}]={metric.name!r}: a {metric.task} metric, but the data is {task}")
    return metrics


def build_for_data(plugins: Plugins, model_cfg: Mapping, metric_names, loss, data, rng) -> tuple:
    """Once the data says its task and shape (a classifier's labels of two classes at least):
    ``(model, metrics, output units)``."""
    check_classes(data)
    metrics = build_metrics(plugins, metric_names, data.task)
    units = output_units(loss, data)
    return build_model(plugins, model_cfg, data, units, rng, loss), metrics, units


def check_classes(data) -> None:
    """A classifier needs training labels of at least two classes."""
    present = np.unique(data.y_train) if data.task == "classification" else ()
    if len(present) == 1:
        raise ConfigError(
            f"data={data.name}: every training label is class {present[0]}, so there is nothing to tell apart (the "
            "loss would be 0 and the accuracy meaningless); give labels of at least 2 classes, or task=regression "
            "for real-valued targets"
        )


# -- the model ------------------------------------------------------------------


def layer_nodes(plugins: Plugins, model_cfg: Mapping, output_units: int) -> list[tuple[str, dict]]:
    """The model config as ``(config path, layer node)`` pairs, the MLP and CNN shorthands expanded."""
    kind = model_cfg.get("type", "mlp")
    if kind == "sequential":
        layers = model_cfg.get("layers")
        if not isinstance(layers, list) or not layers:
            raise ConfigError(f"model.layers: give a non-empty list of layers, got {layers!r}")
        return [(f"model.layers[{i}]", layer) for i, layer in enumerate(layers)]
    if kind not in SHORTHANDS:
        raise ConfigError(
            f"model.type={kind!r}: expected 'mlp' (hidden sizes), 'cnn' (convolution blocks, then hidden sizes) "
            "or 'sequential' (a list of layers)"
        )
    return SHORTHANDS[kind](plugins, model_cfg, output_units)


def _activation_and_init(plugins: Plugins, model_cfg: Mapping) -> tuple:
    """The shorthand's activation node, and the initializer of the layers feeding it."""
    activation = model_cfg.get("activation", "relu")
    activation_node = dict(activation) if isinstance(activation, Mapping) else activation
    if model_cfg.get("init"):
        instantiate(plugins, "initializer", model_cfg["init"], "model.init")
    preferred = registered_class(plugins, "layer", activation_node, "model.activation").preferred_init
    return activation_node, model_cfg.get("init") or preferred or DEFAULT_INIT


def _mlp_nodes(plugins: Plugins, model_cfg: Mapping, output_units: int) -> list[tuple[str, dict]]:
    activation_node, init = _activation_and_init(plugins, model_cfg)
    return _dense_head_nodes(model_cfg, output_units, activation_node, init)


def _dense_head_nodes(model_cfg: Mapping, output_units: int, activation_node, init) -> list[tuple[str, dict]]:
    """``model.hidden`` dense layers (with batch norm, activation, dropout), then the output layer."""
    hidden = model_cfg.get("hidden", [])
    if not isinstance(hidden, list) or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
        raise ConfigError(f"model.hidden={hidden!r}: expected a list of positive layer widths, e.g. [64, 32]")
    dropout = model_cfg.get("dropout", 0.0)
    nodes = []
    for width in hidden:
        nodes.append(("model.hidden", {"name": "dense", "units": width, "init": init}))
        if _batch_norm(model_cfg):
            nodes.append(("model.batch_norm", {"name": "batch_norm"}))
        nodes.append(("model.activation", activation_node))
        if dropout:
            nodes.append(("model.dropout", {"name": "dropout", "rate": dropout}))
    nodes.append(("model.output", {"name": "dense", "units": output_units, "init": DEFAULT_INIT}))
    output_activation = model_cfg.get("output_activation")
    if output_activation:
        node = dict(output_activation) if isinstance(output_activation, Mapping) else {"name": output_activation}
        nodes.append(("model.output_activation", node))
    return nodes


def _batch_norm(model_cfg: Mapping) -> bool:
    """``model.batch_norm``, a boolean: a word such as ``no`` must not switch it on."""
    value = model_cfg.get("batch_norm", False)
    if not isinstance(value, bool):
        raise ConfigError(f"model.batch_norm={value!r}: must be true or false")
    return value


POOLS = {"max": "max_pool2d", "avg": "avg_pool2d"}


def _cnn_nodes(plugins: Plugins, model_cfg: Mapping, output_units: int) -> list[tuple[str, dict]]:
    """Per ``model.conv`` block ``[filters, kernel, pool]``: conv2d, [batch norm], activation and a
    ``pool``-sized pooling layer (none for 1); then flatten and the dense head of the MLP shorthand."""
    activation_node, init = _activation_and_init(plugins, model_cfg)
    pool = model_cfg.get("pool", "max")
    if pool not in POOLS:
        raise ConfigError(f"model.pool={pool!r}: expected one of {', '.join(POOLS)}")
    nodes = []
    for index, (filters, kernel, size) in enumerate(_conv_blocks(model_cfg.get("conv"))):
        path = f"model.conv[{index}]"
        conv = {"name": "conv2d", "filters": filters, "kernel_size": kernel, "init": init}
        nodes.append((path, {**conv, "padding": model_cfg.get("padding", "same")}))
        if _batch_norm(model_cfg):
            nodes.append(("model.batch_norm", {"name": "batch_norm"}))
        nodes.append(("model.activation", activation_node))
        if size > 1:
            nodes.append((path, {"name": POOLS[pool], "kernel_size": size}))
    nodes.append(("model.conv", {"name": "flatten"}))
    return nodes + _dense_head_nodes(model_cfg, output_units, activation_node, init)


def _conv_blocks(blocks) -> list[tuple[int, int, int]]:
    """``model.conv`` as ``(filters, kernel, pool)`` triples; a block may leave out its pool (1: none)."""
    if not isinstance(blocks, list) or not blocks:
        raise ConfigError(
            f"model.conv={blocks!r}: give a non-empty list of [filters, kernel, pool] blocks, e.g. [[32, 3, 2]]"
        )
    triples = []
    for index, block in enumerate(blocks):
        numbers = list(block) if isinstance(block, (list, tuple)) else [block]
        if len(numbers) not in (2, 3) or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in numbers):
            raise ConfigError(
                f"model.conv[{index}]={block!r}: expected [filters, kernel] or [filters, kernel, pool] "
                "with positive integers, e.g. [32, 3, 2]"
            )
        triples.append((numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 1))
    return triples


SHORTHANDS = {"mlp": _mlp_nodes, "cnn": _cnn_nodes}


def output_units(loss, data) -> int:
    """The model's output width: the targets' for regression, the loss's choice for classes."""
    if data.task == "regression":
        return math.prod(data.y_train.shape[1:]) if data.y_train.ndim > 1 else 1
    try:
        return loss.output_units(data.num_classes)
    except FrameworkError as exc:
        labels = np.unique(np.concatenate([data.y_train, data.y_val, data.y_test]))
        shown = ", ".join(str(int(label)) for label in labels[:6]) + (", ..." if len(labels) > 6 else "")
        renumber = ""
        if labels.size and labels[0] > 0:
            renumber = f"class labels count from 0: renumber {shown} in {data.train_source} from 0, or "
        raise ConfigError(
            f"loss={loss.name} {exc}, data {data.name!r} has {data.num_classes} (labels {shown}); "
            f"{renumber}choose another loss or data"
        ) from exc


def _failed_layer_keys(nodes: list[tuple[str, dict]], error: Exception) -> str:
    """The config key of the layer a build error is about, and of the layer before it."""
    index = getattr(error, "layer_index", None)
    if index is None:
        return "model"
    key = nodes[index][0]
    if index > 0 and nodes[index - 1][0] != key:
        key += f" (after {nodes[index - 1][0]})"
    return key


#: An output layer wider than this is worth a word when the model is too large.
MANY_OUTPUTS = 1000


def build_model(plugins: Plugins, model_cfg: Mapping, data, units: int, rng, loss) -> Sequential:
    nodes = layer_nodes(plugins, model_cfg, units)
    layers = [instantiate(plugins, "layer", node, path) for path, node in nodes]
    model = construct(Sequential, {"dtype": model_cfg.get("dtype", "float32")}, "model", layers=layers)
    try:
        model.build(data.input_shape, rng)
    except TooLargeError as exc:
        raise ConfigError(_too_large(nodes, model_cfg, units, exc)) from exc
    except FrameworkError as exc:
        raise ConfigError(
            f"{_failed_layer_keys(nodes, exc)}: cannot be built for data {data.name!r} with samples of shape "
            f"{tuple(data.input_shape)}: {exc}"
        ) from exc
    if model.output_shape != (units,):
        raise ConfigError(
            f"{nodes[-1][0]}: the model ends with output shape {model.output_shape} but data {data.name!r} with this "
            f"loss needs ({units},); make the last layer {units} units wide"
        )
    check_loss_follows(loss, model.layers[-1], nodes[-1][0])
    return model


def _too_large(nodes: list[tuple[str, dict]], model_cfg: Mapping, units: int, error: TooLargeError) -> str:
    """A model too large for this machine, named by the layer, or the config keys, that size it."""
    if getattr(error, "layer_index", None) is not None:
        shown = smaller = _failed_layer_keys(nodes, error)
    else:
        sizes = [key for key in ("hidden", "conv") if model_cfg.get(key)]
        shown = " ".join(f"model.{key}={json.dumps(model_cfg[key])}" for key in sizes) or "model"
        smaller = " or ".join(f"model.{key}" for key in sizes) or "the model's layers"
    fix = f"make {smaller} smaller"
    if units > MANY_OUTPUTS:
        shown, fix = (
            f"{shown} with {units:,} outputs",
            f"{fix}, or check data.num_classes and the labels (one output per class)",
        )
    return f"{shown}: {str(error).rsplit('; ', 1)[0]}; {fix}"


def check_loss_follows(loss, last, last_path: str) -> None:
    """A loss that takes probabilities cannot follow a linear layer, nor one that applies the
    softmax or sigmoid itself follow a layer that already did."""
    if loss.input_kind == "logits" and last.outputs_probabilities:
        raise ConfigError(
            f"loss={loss.name}: applies its softmax or sigmoid itself, but {last_path} is a {last.name} layer, so "
            f"it would be applied twice; remove {last_path} (the loss takes the raw outputs, logits)"
        )
    if loss.input_kind == "probabilities" and last.is_linear:
        raise ConfigError(
            f"loss={loss.name}: takes probabilities, but {last_path} is a linear {last.name} layer; end the model "
            "with a softmax (model.output_activation=softmax) or use loss=softmax_cross_entropy, which takes logits"
        )
