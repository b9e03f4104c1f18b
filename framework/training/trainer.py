"""The Trainer: minibatch training with every lifecycle moment a pluggy hook call.

Usable from a notebook with no Hydra or MLflow::

    trainer = Trainer(model, SoftmaxCrossEntropy(), Adam(lr=1e-3), epochs=5, batch_size=64,
                      metrics=[Accuracy()], rng=np.random.default_rng(0))
    history = trainer.fit(x_train, y_train, validation_data=(x_val, y_val))
"""

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framework.core.errors import FileFormatError, InvalidValueError, ShapeError
from framework.core.losses import Loss
from framework.core.metrics import Metric, MetricStateError, confusion_matrix
from framework.core.model import Sequential
from framework.core.npz import remove_stale_temporaries, save_npz
from framework.core.optimizers import Optimizer, clip_grad_norm
from framework.core.validation import check_finite, check_number, check_positive_int
from framework.core.version import VERSION
from framework.training import hookspecs
from framework.training.callback import Callback
from framework.training.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from framework.training.history import History
from framework.training.hooks import FrameworkPluginManager, check_callback_hooks
from framework.training.interrupts import stop_after_batch_on_signals
from framework.training.run import Run

#: Where a mid-epoch checkpoint keeps each metric's state: ``trainer/metrics/<metric>/<state name>``.
METRIC_STATE = "trainer/metrics/"
#: Why training ended when a callback set ``should_stop`` without naming a reason.
EARLY_STOPPED = "early_stopped"


def _bare_hook_manager():
    manager = FrameworkPluginManager("framework")
    manager.add_hookspecs(hookspecs)
    return manager


@dataclass(frozen=True)
class TrainerSettings:
    """The trainer's numbers, checked on construction (also used to validate a config early)."""

    epochs: int = 10
    batch_size: int = 32
    eval_batch_size: int = 1024
    grad_clip_norm: float | None = None

    def __post_init__(self):
        check_positive_int("Trainer", "epochs", self.epochs)
        check_positive_int("Trainer", "batch_size", self.batch_size)
        check_positive_int("Trainer", "eval_batch_size", self.eval_batch_size)
        if self.grad_clip_norm is not None:
            check_number("Trainer", "grad_clip_norm", self.grad_clip_norm, low=0, low_open=True)


class Trainer:
    """Fits ``model`` with ``loss`` and ``optimizer``.

    ``run`` describes the run (:class:`~framework.training.run.Run`); a fit resumes from
    ``run.resume_from`` unless ``fit`` is given another checkpoint.

    State callbacks may read while training: ``run``, ``epoch`` (1-based, the one running),
    ``batch``, ``global_step``, ``history``, ``model``, ``optimizer`` (set
    ``optimizer.lr`` to change the learning rate), ``base_lr``,
    ``batches_per_epoch``; setting ``should_stop = True`` ends training after the
    current epoch, and ``stop_reason`` (``"early_stopped"`` unless a callback names
    another, e.g. ``"pruned"``) is what the history records of why.
    """

    def __init__(
        self,
        model: Sequential,
        loss: Loss,
        optimizer: Optimizer,
        *,
        epochs: int = 10,
        batch_size: int = 32,
        metrics: list[Metric] = (),
        callbacks: list[Callback] = (),
        rng: np.random.Generator | None = None,
        grad_clip_norm: float | None = None,
        eval_batch_size: int = 1024,
        plugins=None,
        run: Run | None = None,
    ):
        if not isinstance(model, Sequential):
            raise TypeError(f"Trainer: model must be a Sequential, got {type(model).__name__}")
        if not isinstance(loss, Loss):
            raise TypeError(f"Trainer: loss must be a Loss, got {type(loss).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"Trainer: optimizer must be an Optimizer, got {type(optimizer).__name__}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("Trainer: pass rng=np.random.default_rng(seed); all randomness comes from it")
        self.model, self.loss, self.optimizer, self.rng = model, loss, optimizer, rng
        settings = TrainerSettings(epochs, batch_size, eval_batch_size, grad_clip_norm)
        self.epochs, self.batch_size = int(settings.epochs), int(settings.batch_size)
        self.eval_batch_size = int(settings.eval_batch_size)
        self.grad_clip_norm = None if grad_clip_norm is None else float(grad_clip_norm)
        _check_layer_generators(model, rng)
        self.metrics = list(metrics)
        self.callbacks = list(callbacks)
        names = [cb.name or type(cb).__name__ for cb in self.callbacks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidValueError(f"Trainer: callbacks must have distinct names, {duplicates} appear more than once")
        self.hook_manager = plugins.manager if plugins is not None else _bare_hook_manager()
        self._plugins = plugins
        self._check_callback_hooks()
        self._check_metric_states()
        self.hook = self.hook_manager.hook
        #: What this run is (config, output directory, name, resume source, component origins).
        self.run = run if run is not None else Run()
        self.base_lr = optimizer.lr
        self.history = History()
        self.epoch = 0
        self.batch = 0
        self.global_step = 0
        self.should_stop = False
        self.stop_reason = EARLY_STOPPED
        self._resume_position: tuple[int, np.ndarray | None, dict, dict] | None = None
        # Batches of the running epoch already applied to the weights (0 between epochs);
        # with ``_partial``, ``_metric_states`` and ``_permutation`` it is what a mid-epoch
        # checkpoint records.
        self._batches_done = 0
        self._partial: dict = {}
        self._metric_states: dict[str, dict[str, np.ndarray]] = {}
        self._permutation: np.ndarray | None = None

    @property
    def batches_per_epoch(self) -> int:
        """Number of training batches per epoch (known once ``fit`` has seen the training data)."""
        if not hasattr(self, "_train_size"):
            raise AttributeError("Trainer.batches_per_epoch is known only once fit() has been given training data")
        return math.ceil(self._train_size / self.batch_size)

    # -- the loop -----------------------------------------------------------------

    def fit(self, x, y, validation_data=None, *, test_data=None, resume_from=None, classification=None) -> History:
        """Train for ``epochs`` epochs (or until a callback stops it) and return the history.

        With ``test_data``, the test split is evaluated once after the last epoch,
        before ``framework_fit_end``, into ``history.test`` (with a confusion matrix
        when ``classification``, by default when the model has several outputs).
        ``resume_from`` is a checkpoint (a path or a read :class:`Checkpoint`; by default
        the run's): weights, optimizer, RNG, callbacks and position are restored, and
        training continues exactly where it stopped.
        """
        x, y = self._check_data("training", x, y)
        if validation_data is not None:
            validation_data = self._check_data("validation", *validation_data)
        if test_data is not None:
            test_data = self._check_data("test", *test_data)
        self.should_stop = False
        self._restore(resume_from if resume_from is not None else self.run.resume_from, len(x))
        with self._callbacks_registered(), stop_after_batch_on_signals() as interrupt:
            try:
                self.hook.framework_fit_start(trainer=self, run=self.run)
                start = len(self.history) + 1
                if self.should_stop:
                    self.history.stop_reason = self.stop_reason
                    start = self.epochs + 1
                for epoch in range(start, self.epochs + 1):
                    self._run_epoch(epoch, x, y, validation_data, interrupt)
                    if self.should_stop:
                        self.history.stop_reason = self.stop_reason
                        break
                if test_data is not None:
                    self._test(*test_data, classification)
                self.hook.framework_fit_end(trainer=self, history=self.history)
            except BaseException as error:
                self._notify_exception(error)
                raise
        return self.history

    def _restore(self, checkpoint, samples: int) -> None:
        if checkpoint is None:
            return
        checkpoint = self.load_checkpoint(checkpoint)  # sets should_stop if that run had already stopped early
        if self._resume_position is not None:
            _check_permutation(self._resume_position[1], samples, checkpoint.path)
            _check_metric_states(self.metrics, self._resume_position[3], checkpoint.path)

    def _run_epoch(self, epoch, x, y, validation_data, interrupt):
        self.epoch = epoch
        started = time.perf_counter()
        first_batch, permutation, partial, metric_states = 0, None, {}, {}
        if self._resume_position is not None:
            first_batch, permutation, partial, metric_states = self._resume_position
            self._resume_position = None
        count = self.batches_per_epoch
        loss_sum, seen = partial.get("loss_sum", 0.0), partial.get("seen", 0)
        for metric in self.metrics:
            metric.reset()
            if metric.name in metric_states:
                metric.load_state_dict(metric_states[metric.name])
        self._batches_done, self._permutation = first_batch, permutation
        self._partial = self._snapshot_partial(loss_sum, seen)
        self.hook.framework_epoch_start(trainer=self, epoch=epoch)
        if permutation is None:
            permutation = self._permutation = self.rng.permutation(len(x))
        flat = self.model.flat_parameters()
        x_buffer = np.empty((min(self.batch_size, len(x)), *x.shape[1:]), dtype=x.dtype)  # never above the data
        for batch in range(first_batch, count):
            self.batch = batch
            self.hook.framework_batch_start(trainer=self, epoch=epoch, batch=batch)
            index = permutation[batch * self.batch_size : (batch + 1) * self.batch_size]
            # mode="clip" skips a bounds-checking copy (a permutation is always in range).
            xb = np.take(x, index, axis=0, out=x_buffer[: len(index)], mode="clip")
            yb = y[index]
            output = self.model.forward(xb, training=True)
            loss_value = self.loss.forward(output, yb)
            self.model.backward(self.loss.backward(), input_grad=False)
            if self.grad_clip_norm is not None:
                clip_grad_norm(flat, self.grad_clip_norm)
            self.optimizer.step(flat)
            self.global_step += 1
            for metric in self.metrics:
                metric.update(output, yb)
            loss_sum += loss_value * len(index)
            seen += len(index)
            self._partial = self._snapshot_partial(loss_sum, seen)
            self._batches_done = batch + 1
            self.hook.framework_batch_end(trainer=self, epoch=epoch, batch=batch, loss=loss_value)
            interrupt.raise_if_set()
        self.batch = count
        logs = {"epoch": epoch, "loss": loss_sum / max(seen, 1)}
        logs.update({metric.name: metric.result() for metric in self.metrics})
        if validation_data is not None:
            val = {f"val_{k}": v for k, v in self.evaluate(*validation_data).items()}
            self.hook.framework_validation_end(trainer=self, epoch=epoch, metrics=val)
            logs.update(val)
        logs["lr"] = self.optimizer.lr
        logs["seconds"] = time.perf_counter() - started
        # The epoch is complete before its epoch_end hooks run, so a checkpoint written
        # there resumes at the next epoch; entries hooks add to ``logs`` land in the history.
        self.history.append(logs)
        logs = self.history.epochs[-1]
        self._batches_done, self._partial, self._metric_states, self._permutation = 0, {}, {}, None
        self.hook.framework_epoch_end(trainer=self, epoch=epoch, logs=logs)

    def _notify_exception(self, error):
        try:
            self.hook.framework_exception(trainer=self, error=error)
        except Exception as hook_error:  # the original error matters more; keep both visible
            error.add_note(f"while reporting it, a framework_exception hook failed: {hook_error}")

    def _callbacks_registered(self):
        trainer = self

        class Registered:
            def __enter__(self):
                # pluggy calls the most recently registered first: register in reverse
                # so callbacks run in the order they were given.
                for callback in reversed(trainer.callbacks):
                    name = f"callback:{callback.name or id(callback)}"
                    if trainer._plugins is not None:  # an error in one of its hooks names the plugin too
                        trainer.hook_manager.descriptions[name] = trainer._describe("callback", callback)
                    trainer.hook_manager.register(callback, name=name)

            def __exit__(self, *exc):
                for callback in trainer.callbacks:
                    trainer.hook_manager.unregister(callback)
                    trainer.hook_manager.descriptions.pop(f"callback:{callback.name or id(callback)}", None)

        return Registered()

    def _check_callback_hooks(self) -> None:
        """A misspelled hook or one taking an argument its spec lacks is refused here, not ignored."""
        for callback in self.callbacks:
            check_callback_hooks(callback, self._describe("callback", callback))

    def _check_metric_states(self) -> None:
        """Every metric can give its state for a checkpoint (said now, not at the first batch)."""
        for metric in self.metrics:
            metric.reset()
            try:
                metric.state_dict()
            except MetricStateError as exc:
                raise MetricStateError(f"{self._describe('metric', metric)}: {exc}") from exc

    def _describe(self, kind: str, component) -> str:
        """``callback 'timer' from plugin 'extras' (framework-extras 0.1.0)``, as far as known."""
        if self._plugins is not None:
            return self._plugins.describe(kind, component)
        return f"{kind} {component.name or type(component).__name__!r}"

    # -- evaluation ---------------------------------------------------------------

    def evaluate(self, x, y, *, with_confusion_matrix: bool = False) -> dict:
        """Loss and every metric on ``(x, y)`` in evaluation mode, in batches."""
        for metric in self.metrics:
            metric.reset()
        total, outputs = 0.0, []
        for start in range(0, len(x), self.eval_batch_size):
            xb, yb = x[start : start + self.eval_batch_size], y[start : start + self.eval_batch_size]
            output = self.model.forward(xb, training=False)
            total += self.loss.forward(output, yb) * len(xb)
            for metric in self.metrics:
                metric.update(output, yb)
            if with_confusion_matrix:
                outputs.append(output)
        results = {"loss": total / max(len(x), 1)}
        results.update({metric.name: metric.result() for metric in self.metrics})
        if with_confusion_matrix:
            prediction = np.concatenate(outputs)
            classes = prediction.shape[1] if prediction.shape[1] > 1 else 2
            results["confusion_matrix"] = confusion_matrix(prediction, y, classes)
        return results

    def test(self, x, y, *, classification: bool | None = None) -> dict:
        """Evaluate the test split once, store it in ``history.test`` with a ``test_`` prefix."""
        return self._test(*self._check_data("test", x, y), classification)

    def _test(self, x, y, classification: bool | None) -> dict:
        if classification is None:
            classification = self.model.output_shape[-1] > 1
        results = self.evaluate(x, y, with_confusion_matrix=classification)
        self.history.test = {f"test_{k}" if k != "confusion_matrix" else k: v for k, v in results.items()}
        return self.history.test

    # -- checkpoints --------------------------------------------------------------

    def checkpoint_manifest(self) -> dict:
        """Position, RNG and history: everything but the arrays, for the checkpoint manifest."""
        mid_epoch = self._batches_done > 0
        return {
            **self.run.checkpoint_fields(),
            "completed_epochs": len(self.history),
            "batches_done": self._batches_done,
            "global_step": self.global_step,
            "partial_epoch": self._partial if mid_epoch else {},
            "should_stop": self.should_stop,
            "stop_reason": self.stop_reason,
            "rng": self.rng.bit_generator.state,
            "history": self.history.epochs,
            "epochs": self.epochs,
            "framework_version": VERSION,
        }

    def _snapshot_partial(self, loss_sum, seen) -> dict:
        """The running epoch's sums so far (taken at each batch end, before validation resets the metrics);
        the metrics' states go to ``_metric_states``, as arrays."""
        self._metric_states = {metric.name: metric.state_dict() for metric in self.metrics}
        return {"loss_sum": loss_sum, "seen": seen}

    def _mid_epoch_arrays(self) -> dict[str, np.ndarray]:
        """The running epoch's sample order and metric states, for a checkpoint taken mid-epoch."""
        if not self._batches_done:
            return {}
        arrays = {"trainer/permutation": self._permutation}
        for metric_name, state in self._metric_states.items():
            arrays.update({f"{METRIC_STATE}{metric_name}/{key}": value for key, value in state.items()})
        return arrays

    def save_checkpoint(self, path) -> None:
        """Write everything an exact resume needs to ``path`` (atomically)."""
        write_checkpoint(
            path,
            self.checkpoint_manifest(),
            self.model.state_dict(),
            {**self.optimizer.state_dict(), **self._mid_epoch_arrays()},
            {callback.name: callback.state_dict() for callback in self.callbacks if callback.name},
        )

    def load_checkpoint(self, source: "str | Path | Checkpoint") -> Checkpoint:
        """Restore everything from ``source`` (a path, or a checkpoint already read) and return it."""
        checkpoint = source if isinstance(source, Checkpoint) else read_checkpoint(source)
        path = checkpoint.path
        # Temporary files beside it are leftovers of a process killed mid-write (kill -9).
        remove_stale_temporaries(Path(path).parent)
        manifest = checkpoint.manifest
        self.model.load_state_dict(checkpoint.model, source=str(path))
        check_optimizer_state(self.optimizer, checkpoint)
        self.optimizer.load_state_dict(optimizer_state(checkpoint))
        self.rng.bit_generator.state = manifest["rng"]
        self.history = History(manifest["history"])
        self.global_step = manifest["global_step"]
        self.should_stop = bool(manifest.get("should_stop", False))
        self.stop_reason = str(manifest.get("stop_reason", EARLY_STOPPED))
        for callback in self.callbacks:
            if callback.name in checkpoint.callbacks:
                callback.load_state_dict(checkpoint.callbacks[callback.name])
        if manifest["batches_done"]:
            permutation = checkpoint.optimizer["trainer/permutation"]
            partial = manifest["partial_epoch"]
            self._resume_position = (manifest["batches_done"], permutation, partial, saved_metric_states(checkpoint))
        return checkpoint

    # -- input checks -------------------------------------------------------------

    def _check_data(self, split: str, x, y):
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ShapeError(f"{split} data: {len(x)} inputs but {len(y)} targets")
        if len(x) == 0:
            raise ShapeError(f"{split} data is empty")
        if x.shape[1:] != self.model.input_shape:
            raise ShapeError(
                f"{split} data has per-sample shape {x.shape[1:]}, the model was built for {self.model.input_shape}"
            )
        if x.dtype != self.model.dtype:
            x = x.astype(self.model.dtype)
        check_finite(f"{split} data", "x", x)
        check_finite(f"{split} data", "y", y)
        if split == "training":
            self._train_size = len(x)
        return x, y


def _check_layer_generators(model: Sequential, rng: np.random.Generator) -> None:
    for index, layer in enumerate(model.layers):
        layer_rng = getattr(layer, "rng", None)
        if layer_rng is not None and layer_rng is not rng:
            raise InvalidValueError(
                f"Trainer: layer {index} ({layer!r}) draws from another generator than the trainer's rng, "
                "so a checkpoint could not restore it; build the model with the same generator you give the trainer"
            )


def _check_permutation(permutation: np.ndarray, samples: int, path) -> None:
    """A mid-epoch checkpoint's sample order must be an order of this data's samples
    (batches are gathered without bounds checks)."""
    if (
        permutation.ndim != 1
        or len(permutation) != samples
        or not np.array_equal(np.sort(permutation), np.arange(samples))
    ):
        raise FileFormatError(
            f"{path}: its mid-epoch sample order is not an order of the {samples} training samples given "
            f"(it has {permutation.size} entries); resume with the data the run was trained on"
        )


def _check_metric_states(metrics: list[Metric], states: dict, path) -> None:
    """A checkpoint taken mid-epoch must hold the running state of every metric of this run."""
    missing = [metric.name for metric in metrics if metric.name not in states]
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


def optimizer_state(checkpoint: Checkpoint) -> dict:
    """The optimizer's arrays in ``checkpoint`` (without the trainer's own)."""
    return {k: v for k, v in checkpoint.optimizer.items() if not k.startswith("trainer/")}


def check_optimizer_state(optimizer: Optimizer, checkpoint: Checkpoint) -> None:
    """The checkpoint's optimizer must be this one: the same registry name when the
    checkpoint records it, and state of this optimizer's kind (its slots); otherwise
    resuming would fail at the first step or silently mix up moments."""
    saved = sorted({key.rsplit("/", 1)[1] for key in optimizer_state(checkpoint) if "/" in key})
    written_with = ((checkpoint.manifest.get("components") or {}).get("optimizer") or {}).get("name")
    ours = optimizer.name or type(optimizer).__name__
    if written_with and optimizer.name and written_with != optimizer.name:
        problem = f"the checkpoint was trained with optimizer={written_with}, this run has optimizer={ours}"
    elif saved and saved != sorted(optimizer.slots):
        by = f"optimizer {written_with!r}" if written_with else "another optimizer"
        problem = (
            f"it holds the state of {by} (slots {', '.join(saved)}), but this run's optimizer {ours!r} "
            f"has slots {', '.join(optimizer.slots) or 'none'}"
        )
    else:
        return
    advice = f"resume with optimizer={written_with}" if written_with else "resume with the optimizer that wrote it"
    raise InvalidValueError(
        f"{checkpoint.path}: {problem}; its state cannot carry over to another optimizer: {advice}, "
        "or start a new run without resuming"
    )


def save_run_arrays(trainer: Trainer, directory) -> tuple:
    """Write the final weights (``weights.npz``) and the per-epoch history (``history.npz``) into ``directory``."""
    weights = save_npz(Path(directory) / "weights.npz", trainer.model.state_dict())
    history = save_npz(Path(directory) / "history.npz", trainer.history.to_arrays())
    return weights, history
