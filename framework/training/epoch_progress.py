"""How far the running epoch has got: what a checkpoint taken mid-epoch records and
what a resume continues from, so that it is bit-identical to a run never stopped."""

from dataclasses import dataclass, field

import numpy as np

from framework.core.errors import FileFormatError, InvalidValueError
from framework.core.metrics import Metric
from framework.training.checkpoint import Checkpoint

#: Where a mid-epoch checkpoint keeps each metric's state: ``trainer/metrics/<metric>/<state name>``.
METRIC_STATE = "trainer/metrics/"
#: Where a mid-epoch checkpoint keeps the running epoch's sample order.
PERMUTATION = "trainer/permutation"


@dataclass
class EpochProgress:
    """The batches of the running epoch already applied to the weights, the epoch's sample
    order, the training loss summed over the samples seen so far, and each metric's running
    state (taken at each batch end, before validation resets the metrics). Between epochs
    no batch is done and a checkpoint records none of it."""

    batches_done: int = 0
    permutation: np.ndarray | None = None
    loss_sum: float = 0.0
    seen: int = 0
    metric_states: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def take_metric_states(self, metrics: list[Metric]) -> None:
        self.metric_states = {metric.name: metric.state_dict() for metric in metrics}

    def load_metric_states(self, metrics: list[Metric]) -> None:
        """Reset every metric and give it its saved running state, when there is one."""
        for metric in metrics:
            metric.reset()
            if metric.name in self.metric_states:
                metric.load_state_dict(self.metric_states[metric.name])

    def add_batch(self, batch: int, loss_sum: float, samples: int, metrics: list[Metric]) -> None:
        """Record that ``batch`` (of ``samples`` samples, their losses summing to ``loss_sum``) is applied."""
        self.loss_sum += loss_sum
        self.seen += samples
        self.take_metric_states(metrics)
        self.batches_done = batch + 1

    def partial_epoch(self) -> dict:
        """The running sums for the checkpoint manifest (empty between epochs)."""
        return {"loss_sum": self.loss_sum, "seen": self.seen} if self.batches_done else {}

    def arrays(self) -> dict[str, np.ndarray]:
        """The sample order and metric states for the checkpoint's arrays (none between epochs)."""
        if not self.batches_done:
            return {}
        arrays = {PERMUTATION: self.permutation}
        for metric_name, state in self.metric_states.items():
            arrays.update({f"{METRIC_STATE}{metric_name}/{key}": value for key, value in state.items()})
        return arrays

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> "EpochProgress | None":
        """Where a checkpoint taken mid-epoch resumes (None for one taken between epochs)."""
        manifest = checkpoint.manifest
        if not manifest["batches_done"]:
            return None
        partial = manifest["partial_epoch"]
        return cls(
            batches_done=manifest["batches_done"],
            permutation=checkpoint.optimizer[PERMUTATION],
            loss_sum=partial.get("loss_sum", 0.0),
            seen=partial.get("seen", 0),
            metric_states=saved_metric_states(checkpoint),
        )

    def check_fits(self, samples: int, metrics: list[Metric], path) -> None:
        """The saved sample order must be an order of this data's ``samples`` (batches are
        gathered without bounds checks), and every metric of this run must have a saved state."""
        permutation = self.permutation
        if (
            permutation.ndim != 1
            or len(permutation) != samples
            or not np.array_equal(np.sort(permutation), np.arange(samples))
        ):
            raise FileFormatError(
                f"{path}: its mid-epoch sample order is not an order of the {samples} training samples given "
                f"(it has {permutation.size} entries); resume with the data the run was trained on"
            )
        missing = [metric.name for metric in metrics if metric.name not in self.metric_states]
        if missing:
            raise InvalidValueError(
                f"{path}: it stopped mid-epoch without the state of metric {missing[0]!r}, so that epoch's value "
                "could not be completed; resume with the metrics the run was trained with (trainer.metrics), "
                "or start a new run"
            )


def saved_metric_states(checkpoint: Checkpoint) -> dict[str, dict[str, np.ndarray]]:
    """Each metric's state at a mid-epoch checkpoint, by metric name. Checkpoints written before
    metrics had a state API kept ``[total, count]`` in the manifest; those are read too."""
    states: dict[str, dict[str, np.ndarray]] = {}
    for key, value in checkpoint.optimizer.items():
        if key.startswith(METRIC_STATE):
            metric_name, _, state_key = key[len(METRIC_STATE) :].rpartition("/")
            states.setdefault(metric_name, {})[state_key] = value
    legacy = checkpoint.manifest.get("partial_epoch", {}).get("metrics", {})
    for metric_name, (total, count) in legacy.items():
        states.setdefault(metric_name, {"total": np.array(total), "count": np.array(count)})
    return states
