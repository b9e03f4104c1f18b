"""A Trainer fitted on a data set's splits, with targets in the form its loss takes, and
the run's result reported in lines: the final values, where the outputs are, and what
each callback has to say."""

import math
from pathlib import Path

import numpy as np


def fit_splits(trainer, data, units: int):
    """Fit on the data's splits; the trainer writes the weights and the history into the run's
    directory, even when an error ends the fit once training has begun."""
    dtype = trainer.model.dtype
    targets = [_targets(trainer.loss, y, data.task, units, dtype) for y in (data.y_train, data.y_val, data.y_test)]
    validation = (data.x_val, targets[1]) if len(data.x_val) else None
    test = (data.x_test, targets[2]) if len(data.x_test) else None
    classification = data.task == "classification"
    return trainer.fit(data.x_train, targets[0], validation, test_data=test, classification=classification)


def report(history, output_dir: Path, callbacks: list, log) -> dict:
    """Log the run's final values (and its test results), its output directory and the callbacks'
    summary lines; returns the values."""
    summary = {
        **{k: v for k, v in history.last().items() if k != "epoch"},
        **{k: v for k, v in history.test.items() if k != "confusion_matrix"},
    }
    log("result: " + ", ".join(f"{k}={_fmt(v)}" for k, v in summary.items()))
    log(f"outputs: {output_dir}")
    for callback in callbacks:
        for line in callback.summary_lines():
            log(line)
    return summary


def _targets(loss, y: np.ndarray, task: str, units: int, dtype) -> np.ndarray:
    """Integer labels for class-index losses; one-hot (or a 0/1 column) where a loss needs it."""
    if task != "classification" or loss.target_kind == "class_index":
        return y.astype(dtype) if task == "regression" else y
    if units == 1:
        return y.reshape(-1, 1).astype(dtype)
    return np.eye(units, dtype=dtype)[y]


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)
