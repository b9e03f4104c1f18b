"""The trained model as an MLflow pyfunc model.

The logged model holds two artifacts: ``model.json`` (the model's
``get_config()``: layers by qualified registry name such as ``framework:dense``, with
their arguments, input shape and dtype) and ``weights.npz`` (its ``state_dict``), a tensor signature (``(-1, *input_shape)``
of the model's dtype in, ``(-1, *output_shape)`` out) and, when the run's data is
known, an input example of a few training samples. Loading rebuilds the model
through the framework's registries, so layers from installed plugins work too,
and loads the weights: ``mlflow.pyfunc.load_model(uri).predict(x)`` returns what
``model.predict(x)`` returned. The framework (and any plugin whose layers the
model uses) must be importable where the model is loaded, e.g.
``mlflow models predict -m <uri> -i input.json --env-manager local``.

Importing this module imports mlflow; the logger imports it only when it logs a model.
"""

import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np

from framework.core.errors import InvalidValueError
from framework.core.model_inputs import check_representable, exact_samples, samples
from framework.core.npz import save_npz

CONFIG_FILE, WEIGHTS_FILE, EXAMPLE_FILE = "model.json", "weights.npz", "input_example.npy"
#: Samples of the input example logged with the model.
EXAMPLE_SAMPLES = 3
#: In the model's ``model.json``: the model was logged with a signature, so its inputs are
#: checked exactly as MLflow checks them (models logged before had none: their inputs are cast).
EXACT_INPUT = "exact_input"


def write_model_files(model, directory, example=None, weights: Path | None = None, plugins=None) -> Path:
    """``model.json``, ``weights.npz`` (unless the run's ``weights`` file is given: not written twice)
    and (given ``example`` inputs) ``input_example.npy`` for ``model`` in ``directory`` (no mlflow needed);
    with the ``plugins`` that built the model, its layers by qualified name."""
    import framework

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {"framework_version": framework.__version__, "model": qualified_config(model, plugins), EXACT_INPUT: True}
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    if weights is None:
        save_npz(directory / WEIGHTS_FILE, model.state_dict())
    if example is not None and len(example):
        np.save(directory / EXAMPLE_FILE, np.asarray(example[:EXAMPLE_SAMPLES], dtype=model.dtype))
    return directory


def qualified_config(model, plugins=None) -> dict:
    """``model.get_config()`` with each layer named as ``plugins`` registered it (``framework:dense``,
    ``extras:gelu``): a plugin installed later that shares a bare name does not change what loads."""
    config = model.get_config()
    if plugins is None:
        return config
    config["layers"] = [
        {**node, "name": plugins.qualified_name("layer", layer) or node["name"]}
        for node, layer in zip(config["layers"], model.layers, strict=True)
    ]
    return config


def build_model(config: dict):
    """A built ``Sequential`` from ``model.get_config()``, layers made through the registries."""
    from framework.core.model import Sequential
    from framework.plugins import default_plugins
    from framework.plugins.construct import instantiate

    plugins = default_plugins()
    layers = [
        instantiate(plugins, "layer", dict(node), f"model.layers[{index}]")
        for index, node in enumerate(config["layers"])
    ]
    return Sequential(
        layers, input_shape=tuple(config["input_shape"]), rng=np.random.default_rng(0), dtype=config["dtype"]
    )


class FrameworkModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: ``predict(x)`` is the framework model's evaluation-mode ``predict``."""

    def load_context(self, context):
        config = json.loads(Path(context.artifacts["model_config"]).read_text(encoding="utf-8"))
        self.model = build_model(config["model"])
        self.model.load_weights(context.artifacts["weights"])
        self.exact = bool(config.get(EXACT_INPUT))

    def predict(self, context, model_input: np.ndarray, params=None):
        try:
            x = self._samples(model_input)
        except InvalidValueError as exc:  # the caller's input: a 400 from a server, its reason and no stack
            from mlflow.exceptions import MlflowException
            from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
        batch_size = int((params or {}).get("batch_size", 1024))
        return self.model.predict(x, batch_size=batch_size)

    def _samples(self, model_input) -> np.ndarray:
        if hasattr(model_input, "to_numpy"):  # a pandas DataFrame (CSV input)
            model_input = model_input.to_numpy()
        given = np.asarray(model_input)
        check_representable(given, self.model.dtype)
        if getattr(self, "exact", False):
            return exact_samples(given, self.model.input_shape, self.model.dtype)
        # a model logged without a signature: inputs are cast, flat rows reshaped
        return samples(given.astype(self.model.dtype), self.model.input_shape)


def model_metadata(config: dict, model=None) -> dict:
    """Input and output shapes and dtype, recorded in the MLmodel file."""
    model = model or build_model(config["model"])
    return {
        "framework_version": config.get("framework_version", ""),
        "input_shape": [-1, *model.input_shape],
        "output_shape": [-1, *model.output_shape],
        "dtype": model.dtype.name,
        "layers": [layer["name"] for layer in config["model"]["layers"]],
    }


def model_signature(model):
    """Tensors of the model's dtype: ``(-1, *input_shape)`` in, ``(-1, *output_shape)`` out, any
    batch size. MLflow checks inputs against it (``exact_samples`` does the same), and the scoring
    server reads JSON and CSV input as arrays of that dtype."""
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    return ModelSignature(
        inputs=Schema([TensorSpec(model.dtype, (-1, *model.input_shape))]),
        outputs=Schema([TensorSpec(model.dtype, (-1, *model.output_shape))]),
    )


def requirements() -> list[str]:
    import pluggy

    return [f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}", f"pluggy=={pluggy.__version__}"]


def logged_model_id(client, run_id: str, name: str) -> str | None:
    run = client.get_run(run_id)
    outputs = run.outputs.model_outputs if run.outputs is not None else []
    for output in outputs or []:
        try:
            if client.get_logged_model(output.model_id).name == name:
                return output.model_id
        except Exception:
            continue
    return None


def log_framework_model(tracking_uri: str, run_id: str, model_dir, name="model", step=0, weights=None) -> str:
    """Log the model in ``model_dir`` (from :func:`write_model_files`; its weights there, or the
    ``weights`` file) to run ``run_id`` as pyfunc model ``name`` at ``step`` (the run's last epoch),
    with its signature and input example; once per run (a repeated call returns the first model's id)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    existing = logged_model_id(client, run_id, name)
    if existing is not None:
        return existing
    model_dir = Path(model_dir)
    config = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    model = build_model(config["model"])
    example = np.load(model_dir / EXAMPLE_FILE) if (model_dir / EXAMPLE_FILE).is_file() else None
    # mlflow.set_tracking_uri also exports $MLFLOW_TRACKING_URI (for subprocesses): restore the
    # variable exactly, or every later run of this process and its children would track there.
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracking_uri)
    try:
        # log_model attaches the model to the active run: resume ours for the call (the
        # logger marks it FINISHED right after; this is only called for finished runs).
        with mlflow.start_run(run_id=run_id), _quiet("mlflow.pyfunc"), _quiet("mlflow.models"):
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(Path(__file__).with_name("model_code.py")),
                artifacts={
                    "model_config": str(model_dir / CONFIG_FILE),
                    "weights": str(weights or model_dir / WEIGHTS_FILE),
                },
                pip_requirements=requirements(),  # explicit: MLflow's own inference of them is slow
                signature=model_signature(model),
                input_example=example,
                metadata=model_metadata(config, model),
                step=step,
            )
    finally:
        mlflow.set_tracking_uri(previous)  # None: back to "not set", the variable removed
    return info.model_id


@contextmanager
def _quiet(logger_name: str):
    """Hide a library logger's messages below errors for the block (MLflow's notes on validating
    the input example, on environment variables the model reads)."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)
