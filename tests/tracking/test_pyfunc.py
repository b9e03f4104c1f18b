"""The model as an MLflow pyfunc model gives the framework's own predictions, loaded
in Python and through ``mlflow models predict``."""

import json
import os
import subprocess
import sys

import mlflow
import numpy as np
import pytest

from framework.command import train

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


@pytest.mark.slow
def test_pyfunc_load_model_predicts_like_the_framework(logged, store):
    result, run, x = logged
    expected = result.trainer.model.predict(x)
    mlflow.set_tracking_uri(store)
    try:
        model_id = run.outputs.model_outputs[0].model_id
        for uri in (f"runs:/{run.info.run_id}/model", f"models:/{model_id}"):
            loaded = mlflow.pyfunc.load_model(uri)
            predicted = loaded.predict(x)
            assert predicted.dtype == np.float32
            assert np.array_equal(predicted, expected), uri
        assert np.array_equal(loaded.predict(x.astype(np.float64)), expected)  # cast to the model's dtype
        assert np.array_equal(loaded.predict(x.tolist()), expected)
        metadata = loaded.metadata.metadata
        assert metadata["input_shape"] == [-1, 64] and metadata["output_shape"] == [-1, 10]
        assert metadata["dtype"] == "float32"
    finally:
        mlflow.set_tracking_uri(None)


@pytest.mark.slow
def test_mlflow_models_predict_gives_the_same_outputs(logged, store, tmp_path):
    result, run, x = logged
    expected = result.trainer.model.predict(x)
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    uri = f"runs:/{run.info.run_id}/model"
    (tmp_path / "input.json").write_text(json.dumps({"inputs": x.tolist()}))
    (tmp_path / "input.csv").write_text(
        ",".join(f"x{i}" for i in range(64))
        + "\n"
        + "\n".join(",".join(repr(float(v)) for v in row) for row in x)
        + "\n"
    )
    for kind in ("json", "csv"):
        output = tmp_path / f"out-{kind}.json"
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "predict",
            "-m",
            uri,
            "-i",
            str(tmp_path / f"input.{kind}"),
        ]
        command += ["-t", kind, "-o", str(output), "--env-manager", "local"]
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        predictions = np.asarray(json.loads(output.read_text())["predictions"], dtype=np.float32)
        assert np.array_equal(predictions, expected), kind


def test_served_input_of_the_wrong_width_is_refused_not_reshaped():
    """A (4, 3) table given to a 2-feature model once returned 6 predictions."""
    import framework as fw
    from framework.core.errors import InvalidValueError
    from framework.tracking.pyfunc import FrameworkModel

    served = FrameworkModel()
    served.model = fw.Sequential([fw.Dense(3)], input_shape=(2,), rng=np.random.default_rng(0))
    assert served.predict(None, np.ones((4, 2))).shape == (4, 3)
    for wrong in (np.ones((4, 3)), np.ones((6,)), np.ones((2, 2, 2))):
        with pytest.raises(InvalidValueError, match=r"model input: each sample must have shape \(2,\)"):
            served.predict(None, wrong)
