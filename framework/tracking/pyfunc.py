"""The trained model as an MLflow pyfunc model.

The logged model holds two artifacts: ``model.json`` (the model's
``get_config()``: layers by registry name with their arguments, input shape and
dtype) and ``weights.npz`` (its ``state_dict``). Loading rebuilds the model
through the framework's registries, so layers from installed plugins work too,
and loads the weights: ``mlflow.pyfunc.load_model(uri).predict(x)`` returns what
``model.predict(x)`` returned. The framework (and any plugin whose layers the
model uses) must be importable where the model is loaded, e.g.
``mlflow models predict -m <uri> -i input.json --env-manager local``.

Importing this module imports mlflow; the logger imports it only when it logs a model.
"""

import json
import logging
import math
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np

from framework.core.errors import InvalidValueError
from framework.core.npz import save_npz

CONFIG_FILE, WEIGHTS_FILE = "model.json", "weights.npz"


def write_model_files(model, directory) -> Path:
    """``model.json`` and ``weights.npz`` for ``model`` in ``directory`` (no mlflow needed)."""
    import framework

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {"framework_version": framework.__version__, "model": model.get_config()}
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    save_npz(directory / WEIGHTS_FILE, model.state_dict())
    return directory


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


def load_model_files(directory):
    directory = Path(directory)
    config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    model = build_model(config["model"])
    model.load_weights(directory / WEIGHTS_FILE)
    return model


class FrameworkModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: ``predict(x)`` is the framework model's evaluation-mode ``predict``."""

    def load_context(self, context):
        config = json.loads(Path(context.artifacts["model_config"]).read_text(encoding="utf-8"))
        self.model = build_model(config["model"])
        self.model.load_weights(context.artifacts["weights"])

    def predict(self, context, model_input: np.ndarray, params=None):
        if hasattr(model_input, "to_numpy"):  # a pandas DataFrame (CSV input)
            model_input = model_input.to_numpy()
        x = samples(np.asarray(model_input, dtype=self.model.dtype), self.model.input_shape)
        batch_size = int((params or {}).get("batch_size", 1024))
        return self.model.predict(x, batch_size=batch_size)


def samples(x: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """``x`` as a batch of samples of ``input_shape``: already so, or one flat row per sample
    (a table, CSV input). Anything else is refused: a reshape would mix samples up."""
    if x.shape[1:] == tuple(input_shape):
        return x
    width = math.prod(input_shape)
    if x.ndim == 2 and x.shape[1] == width:
        return x.reshape(-1, *input_shape)
    if x.ndim == 1 and width == 1:
        return x.reshape(-1, 1)
    raise InvalidValueError(
        f"model input: each sample must have shape {tuple(input_shape)} (or be a row of {width} values), got an "
        f"array of shape {x.shape}; give one row per sample with the model's {width} input values "
        "(and no label column)"
    )


def model_metadata(config: dict) -> dict:
    """Input and output shapes and dtype, recorded in the MLmodel file.

    No MLflow signature is logged on purpose: a tensor signature makes MLflow refuse any
    input whose dtype is not exactly the model's (float64 arrays, CSV input), while
    ``predict`` converts inputs to the model's dtype itself."""
    model = build_model(config["model"])
    return {
        "framework_version": config.get("framework_version", ""),
        "input_shape": [-1, *model.input_shape],
        "output_shape": [-1, *model.output_shape],
        "dtype": model.dtype.name,
        "layers": [layer["name"] for layer in config["model"]["layers"]],
    }


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


def log_framework_model(tracking_uri: str, run_id: str, model_dir, name: str = "model") -> str:
    """Log the model in ``model_dir`` (from :func:`write_model_files`) to run ``run_id`` as
    pyfunc model ``name``; once per run (a repeated call returns the first model's id)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    existing = logged_model_id(client, run_id, name)
    if existing is not None:
        return existing
    model_dir = Path(model_dir)
    config = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    # mlflow.set_tracking_uri also exports $MLFLOW_TRACKING_URI (for subprocesses): restore the
    # variable exactly, or every later run of this process and its children would track there.
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracking_uri)
    try:
        # log_model attaches the model to the active run: resume ours for the call (the
        # logger marks it FINISHED right after; this is only called for finished runs).
        with mlflow.start_run(run_id=run_id), warnings.catch_warnings(), _quiet("mlflow.pyfunc"):
            warnings.filterwarnings("ignore", message=".*(input example|signature).*", category=UserWarning)
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(Path(__file__).with_name("model_code.py")),
                artifacts={"model_config": str(model_dir / CONFIG_FILE), "weights": str(model_dir / WEIGHTS_FILE)},
                pip_requirements=requirements(),
                metadata=model_metadata(config),
            )
    finally:
        mlflow.set_tracking_uri(previous)  # None: back to "not set", the variable removed
    return info.model_id


@contextmanager
def _quiet(logger_name: str):
    """Hide a library logger's warnings for the block: MLflow warns through logging that no
    signature could be inferred, which is the intended state here (see above)."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)
