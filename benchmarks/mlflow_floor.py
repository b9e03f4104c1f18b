"""MLflow's own minimum for one tracked run, without the framework around it.

``python benchmarks/mlflow_floor.py <store directory>`` does, in one fresh process, only
what every tracked run needs from MLflow: import it, open the SQLite store that
``startup.py`` created, create a run, log a batch of params and metrics, log a small
framework model as the run logs it (pyfunc with signature and input example) and mark
the run FINISHED. No data, no training, no files of its own. ``startup.py`` times it
beside the real commands: no tracked run can be faster than this unless MLflow's part is
split across processes.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np


def main(store: Path) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    import framework as fw
    from framework.tracking.pyfunc import log_framework_model, write_model_files

    uri = f"sqlite:///{(store / 'mlflow.db').resolve()}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("framework")
    run_id = client.create_run(experiment.experiment_id, run_name="mlflow-floor").info.run_id
    params = [Param(f"param_{index}", str(index)) for index in range(40)]
    metrics = [Metric("loss", 1.0 / (step + 1), 0, step) for step in range(20)]
    client.log_batch(run_id, metrics=metrics, params=params, synchronous=True)
    model = fw.Sequential([fw.Dense(16), fw.ReLU(), fw.Dense(10)], input_shape=(64,), rng=np.random.default_rng(0))
    with tempfile.TemporaryDirectory() as directory:
        model_dir = write_model_files(model, Path(directory) / "model", np.zeros((3, 64), np.float32))
        log_framework_model(uri, run_id, model_dir, name="mlflow-floor")
    client.set_terminated(run_id, "FINISHED")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
