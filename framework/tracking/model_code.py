"""The pyfunc model as code (MLflow's "models from code"): MLflow copies this file
into the logged model and runs it when loading, so no pickled object is stored.
Loading needs the framework installed (and any plugin whose layers the model uses)."""

import mlflow

from framework.tracking.pyfunc import FrameworkModel

mlflow.models.set_model(FrameworkModel())
