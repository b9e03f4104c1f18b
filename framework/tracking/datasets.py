"""The run's data as MLflow dataset inputs: one dataset per non-empty split (train,
validation, test), each with its name, digest, source, tensor schema and profile in the
format of MLflow's ``NumpyDataset``, and its split as the input tag ``mlflow.data.context``.

Built from the arrays without importing mlflow or pandas: the records are JSON, sent by
the logger's sender (``op: log_inputs``) like everything else.
"""

import json
from pathlib import Path

import numpy as np

from framework.data.digest import digest

CONTEXT_TAG = "mlflow.data.context"


def split_inputs(data) -> list[dict]:
    """One dataset record per non-empty split of ``data`` (a ``DataSplits``)."""
    splits = (
        ("train", data.x_train, data.y_train, data.train_source),
        ("validation", data.x_val, data.y_val, data.train_source),
        ("test", data.x_test, data.y_test, data.test_source),
    )
    return [dataset_record(data.name, context, x, y, source) for context, x, y, source in splits if len(x)]


def dataset_record(name: str, context: str, x: np.ndarray, y: np.ndarray, source: str) -> dict:
    source_type, source_json = dataset_source(source)
    return {
        "name": name or "data",
        "digest": digest(x, y),
        "source_type": source_type,
        "source": source_json,
        "schema": json.dumps({"mlflow_tensorspec": {"features": _tensor_spec(x), "targets": _tensor_spec(y)}}),
        "profile": json.dumps(
            {
                "features_shape": list(x.shape),
                "features_size": int(x.size),
                "features_nbytes": int(x.nbytes),
                "targets_shape": list(y.shape),
                "targets_size": int(y.size),
                "targets_nbytes": int(y.nbytes),
            }
        ),
        "context": context,
    }


def dataset_source(source: str) -> tuple[str, str]:
    """MLflow's source type and source JSON for where the arrays came from: a URL, a local file,
    or (generated data) the code that made them."""
    if source.startswith(("http://", "https://")):
        return "http", json.dumps({"url": source})
    if source and Path(source).exists():
        return "local", json.dumps({"uri": str(Path(source).resolve())})
    return "code", json.dumps({"tags": {"mlflow.source.name": source or "framework"}})


def _tensor_spec(array: np.ndarray) -> str:
    return json.dumps([{"type": "tensor", "tensor-spec": {"dtype": array.dtype.name, "shape": [-1, *array.shape[1:]]}}])


def dataset_of(key: str, trained: set[str], datasets: dict[str, tuple[str, str]]) -> tuple[str, ...]:
    """The name and digest of the dataset the logged value ``key`` was computed on (``datasets``, by
    split): ``test_*`` the test split, ``val_*`` the validation split, ``trained`` names the training
    split; nothing for the rest (the learning rate, the seconds)."""
    split = "test" if key.startswith("test_") else "validation" if key.startswith("val_") else None
    return datasets.get(split or ("train" if key in trained else None), ())
