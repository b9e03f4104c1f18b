"""``check_metric``: the state API (reset, update, result, state as arrays) and an exact
resume from a state saved between two batches."""

import numpy as np

from framework.conformance._assert import fail, label
from framework.core.metrics import Metric


def example_batches(task: str, classes: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Four batches of model outputs and targets, as the trainer gives them to a metric."""
    rng = np.random.default_rng(seed)
    if task == "regression":
        return [(rng.normal(size=(8, 1)), rng.normal(size=(8, 1))) for _ in range(4)]
    return [(rng.normal(size=(8, classes)), rng.integers(0, classes, size=8)) for _ in range(4)]


def check_metric(metric: Metric, batches=None, *, classes: int = 3, seed: int = 0) -> None:
    """Check ``metric`` on ``batches`` (``[(pred, target), ...]``; by default four random
    batches for its ``task``, with ``classes`` logit columns for classification):

    - it subclasses ``framework.Metric`` and its ``result()`` is a finite float;
    - ``state_dict()`` gives numpy arrays (copies, not the live state);
    - a new metric loaded with the state after two batches, then given the other two,
      gives the same result as one metric given all four (a mid-epoch resume);
    - ``reset()`` forgets everything: the same batches again give the same result.
    """
    owner = label(metric)
    if not isinstance(metric, Metric):
        fail(owner, "does not subclass framework.Metric")
    batches = batches or example_batches(metric.task, classes, seed)
    straight = _result_over(metric, batches)
    if not isinstance(straight, float) or not np.isfinite(straight):
        fail(owner, f"result() returned {straight!r}; return a finite Python float")
    _check_state_is_arrays(owner, metric)
    _check_resume(owner, metric, batches, straight)
    if _result_over(metric, batches) != straight:
        fail(owner, "reset() does not forget the earlier batches: the same batches gave another result")


def _result_over(metric: Metric, batches) -> float:
    metric.reset()
    for pred, target in batches:
        metric.update(pred, target)
    return metric.result()


def _check_state_is_arrays(owner: str, metric: Metric) -> None:
    state = metric.state_dict()
    not_arrays = [key for key, value in state.items() if not isinstance(value, np.ndarray)]
    if not_arrays:
        fail(owner, f"state_dict() must give numpy arrays; {not_arrays[0]!r} is {type(state[not_arrays[0]]).__name__}")
    before = {key: value.copy() for key, value in state.items()}
    for value in state.values():
        value[...] = value + 1
    after = metric.state_dict()
    if any(not np.array_equal(after[key], value) for key, value in before.items()):
        fail(owner, "state_dict() returns the live state; return copies (a checkpoint must not change with it)")


def _check_resume(owner: str, metric: Metric, batches, straight: float) -> None:
    half = len(batches) // 2
    _result_over(metric, batches[:half])
    saved = metric.state_dict()
    resumed = type(metric)(**metric.get_config())
    resumed.reset()
    resumed.load_state_dict(saved)
    for pred, target in batches[half:]:
        resumed.update(pred, target)
    if resumed.result() != straight:
        fail(
            owner,
            f"resuming from state_dict() after {half} batches gives {resumed.result()!r}, one pass gives "
            f"{straight!r}; state_names must list every attribute reset() sets and update() changes",
        )
