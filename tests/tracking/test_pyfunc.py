"""The model as an MLflow pyfunc model gives the framework's own predictions, loaded
in Python and through ``mlflow models predict``; its signature and our own check refuse
the same inputs."""

import json
import os
import subprocess
import sys

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException

from framework.command import train
from framework.tracking.registry import model_name

from .conftest import only_run


@pytest.fixture
def logged(tracked, client):
    """A run whose model has dropout and batch norm (layer arguments and buffers to rebuild)."""
    result = train(
        tracked("model.batch_norm=true", "model.dropout=0.1", "logger.log_checkpoints=false"), log=lambda *_: None
    )
    run = only_run(client)
    x = np.random.default_rng(1).uniform(0, 1, size=(37, 64)).astype(np.float32)
    return result, run, x


def model_uri(run) -> str:
    """``runs:/<run id>/<model name>``: the model is named after its run."""
    return f"runs:/{run.info.run_id}/{model_name(run.info.run_name)}"


@pytest.mark.slow
def test_pyfunc_load_model_predicts_like_the_framework(logged, store, client):
    result, run, x = logged
    expected = result.trainer.model.predict(x)
    model_id = run.outputs.model_outputs[0].model_id
    assert client.get_logged_model(model_id).name == model_name(run.info.run_name) != "model"
    mlflow.set_tracking_uri(store)
    try:
        for uri in (model_uri(run), f"models:/{model_id}"):
            loaded = mlflow.pyfunc.load_model(uri)
            predicted = loaded.predict(x)
            assert predicted.dtype == np.float32
            assert np.array_equal(predicted, expected), uri
        signature = loaded.metadata.signature
        assert [(s.type, s.shape) for s in signature.inputs.inputs] == [(np.dtype("float32"), (-1, 64))]
        assert [(s.type, s.shape) for s in signature.outputs.inputs] == [(np.dtype("float32"), (-1, 10))]
        example = np.asarray(loaded.input_example)
        assert example.shape == (3, 64) and np.array_equal(example, result.trainer.run.data.x_train[:3])
        metadata = loaded.metadata.metadata
        assert metadata["input_shape"] == [-1, 64] and metadata["output_shape"] == [-1, 10]
        assert metadata["dtype"] == "float32"
        assert set(metadata["layers"]) == {
            "framework:dense",
            "framework:batch_norm",
            "framework:relu",
            "framework:dropout",
        }
        _check_refusals(loaded, x)
    finally:
        mlflow.set_tracking_uri(None)


def _check_refusals(loaded, x):
    """MLflow's signature check and the model's own check accept and refuse the same inputs."""
    from mlflow.exceptions import MlflowException

    served = loaded.unwrap_python_model()
    wrong = {
        "dtype of input float64 does not match expected dtype float32": x.astype(np.float64),
        "dtype of input int64 does not match expected dtype float32": x.astype(np.int64),
        r"Shape of input \(37, 63\) does not match expected shape \(-1, 64\)": x[:, :63],
        r"Shape of input \(37, 64, 1\) does not match expected shape \(-1, 64\)": x[..., None],
    }
    for reason, bad in wrong.items():
        with pytest.raises(MlflowException, match=reason):
            loaded.predict(bad)
        with pytest.raises(MlflowException, match=r"^model input: ") as refused:
            served.predict(None, bad)
        assert "\n" not in str(refused.value)
    assert np.array_equal(served.predict(None, x), loaded.predict(x))
    assert np.array_equal(loaded.predict(x[:1]), served.predict(None, x[:1]))  # any batch size


@pytest.mark.slow
def test_mlflow_models_predict_gives_the_same_outputs(logged, store, tmp_path):
    """JSON input is read as arrays of the signature's dtype. (MLflow reads CSV input as float64,
    which the float32 signature refuses: the documented input is JSON.)"""
    result, run, x = logged
    expected = result.trainer.model.predict(x)
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    (tmp_path / "input.json").write_text(json.dumps({"inputs": x.tolist()}))
    output = tmp_path / "out.json"
    command = [sys.executable, "-m", "mlflow", "models", "predict", "-m", model_uri(run)]
    command += ["-i", str(tmp_path / "input.json"), "-t", "json", "-o", str(output), "--env-manager", "local"]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    predictions = np.asarray(json.loads(output.read_text())["predictions"], dtype=np.float32)
    assert np.array_equal(predictions, expected)


def test_served_input_of_the_wrong_width_is_refused_not_reshaped():
    """A (4, 3) table given to a 2-feature model once returned 6 predictions. (A model logged
    before models had a signature: its inputs are cast to the model's dtype.)"""
    import framework as fw
    from framework.tracking.pyfunc import FrameworkModel

    served = FrameworkModel()
    served.model = fw.Sequential([fw.Dense(3)], input_shape=(2,), rng=np.random.default_rng(0))
    assert served.predict(None, np.ones((4, 2))).shape == (4, 3)
    for wrong in (np.ones((4, 3)), np.ones((6,)), np.ones((2, 2, 2))):
        with pytest.raises(MlflowException, match=r"model input: each sample must have shape \(2,\)") as refused:
            served.predict(None, wrong)
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE"  # a server answers 400


def test_a_model_with_a_signature_refuses_what_the_signature_refuses_in_one_line():
    import framework as fw
    from framework.tracking.pyfunc import FrameworkModel

    served = FrameworkModel()
    served.model = fw.Sequential([fw.Dense(3)], input_shape=(2,), rng=np.random.default_rng(0))
    served.exact = True
    assert served.predict(None, np.ones((4, 2), np.float32)).shape == (4, 3)
    with pytest.raises(MlflowException, match=r"^model input: each sample must have shape \(2,\), got an array "):
        served.predict(None, np.ones((4, 3), np.float32))
    with pytest.raises(MlflowException, match=r"takes float32 arrays, got float64; convert it first: x\.astype"):
        served.predict(None, np.ones((4, 2)))
