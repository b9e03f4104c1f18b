"""The Trainer: minibatch training with every lifecycle moment a pluggy hook call.

Usable from a notebook with no Hydra or MLflow::

    trainer = Trainer(model, SoftmaxCrossEntropy(), Adam(lr=1e-3), epochs=5, batch_size=64,
                      metrics=[Accuracy()], rng=np.random.default_rng(0))
    history = trainer.fit(x_train, y_train, validation_data=(x_val, y_val))
"""

import functools
import math
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from framework.core.errors import FrameworkError
from framework.core.losses import Loss
from framework.core.metrics import Metric, MetricStateError, confusion_matrix
from framework.core.model import Sequential
from framework.core.npz import remove_stale_temporaries, save_npz
from framework.core.optimizers import Optimizer, clip_grad_norm
from framework.core.validation import check_number, check_positive_int
from framework.core.version import VERSION
from framework.training.callback import Callback
from framework.training.checkpoint import (
    Checkpoint,
    check_optimizer_state,
    optimizer_state,
    read_checkpoint,
    write_checkpoint,
)
from framework.training.epoch_progress import EpochProgress
from framework.training.history import History
from framework.training.hooks import callbacks_registered, check_callback_hooks, lifecycle_manager
from framework.training.interrupts import stop_after_batch_on_signals
from framework.training.run import Run
from framework.training.trainer_checks import check_callback_names, check_components, check_data, check_layer_generators

#: Why training ended when a callback set ``should_stop`` without naming a reason.
EARLY_STOPPED = "early_stopped"


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


#: The trainer's settings a config may give (``trainer.<key>``).
TRAINER_KEYS = tuple(setting.name for setting in fields(TrainerSettings))


class Trainer:
    """Fits ``model`` with ``loss`` and ``optimizer``.

    ``run`` describes the run (:class:`~framework.training.run.Run`); a fit resumes from
    ``run.resume_from`` unless ``fit`` is given another checkpoint. ``plugins`` (what
    ``framework.plugins.build_plugins`` returns) relays the hooks through its manager and
    names components in messages by their plugin; without it the trainer relays its
    callbacks' hooks through a manager of its own.

    State callbacks may read while training: ``run``, ``epoch`` (1-based, the one running),
    ``batch``, ``global_step``, ``history``, ``model``, ``optimizer`` (set
    ``optimizer.lr`` to change the learning rate), ``base_lr``,
    ``batches_per_epoch``; setting ``should_stop = True`` ends training after the
    current epoch, and ``stop_reason`` (``"early_stopped"`` unless a callback names
    another, e.g. ``"pruned"``) is what the history records of why. When the run has an
    ``output_dir``, the fit writes ``weights.npz`` and ``history.npz`` there before
    ``framework_fit_end`` (and, once training has begun, before ``framework_exception``):
    ``result_files`` are their paths.
    """

    result_files: tuple = ()

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
        check_components(model, loss, optimizer, rng)
        self.model, self.loss, self.optimizer, self.rng = model, loss, optimizer, rng
        settings = TrainerSettings(epochs, batch_size, eval_batch_size, grad_clip_norm)
        self.epochs, self.batch_size = int(settings.epochs), int(settings.batch_size)
        self.eval_batch_size = int(settings.eval_batch_size)
        self.grad_clip_norm = None if grad_clip_norm is None else float(grad_clip_norm)
        check_layer_generators(model, rng)
        self.metrics = list(metrics)
        self.callbacks = list(callbacks)
        check_callback_names(self.callbacks)
        self.hook_manager = plugins.manager if plugins is not None else lifecycle_manager()
        self._plugins = plugins
        self._check_callback_hooks()
        self._check_metric_states()
        self.hook = self.hook_manager.hook
        #: What this run is (config, output directory, name, resume source, component origins).
        self.run = run if run is not None else Run()
        self.base_lr = optimizer.lr
        self.history = History()
        self.epoch = self.batch = self.global_step = 0
        self.should_stop = False
        self.stop_reason = EARLY_STOPPED
        #: The running epoch's position, what a mid-epoch checkpoint records.
        self._progress = EpochProgress()
        #: Where the next epoch starts when a mid-epoch checkpoint was loaded.
        self._resumed_progress: EpochProgress | None = None

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
        self.should_stop, self.result_files = False, ()
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
                self._save_results()
                self.hook.framework_fit_end(trainer=self, history=self.history)
            except BaseException as error:
                self._save_results_despite(error)
                self._notify_exception(error)
                raise
        return self.history

    def _save_results(self) -> None:
        """The weights and the history in the run's directory (when it has one): ``result_files``."""
        if self.run.output_dir is not None:
            self.result_files = save_run_arrays(self, self.run.output_dir)

    def _save_results_despite(self, error: BaseException) -> None:
        """Once training has begun, its results are written whatever ends it (noted on ``error`` if they
        cannot be)."""
        if self.global_step == 0 or self.result_files:
            return
        try:
            self._save_results()
        except (OSError, FrameworkError) as save_error:
            error.add_note(f"the trained weights could not be written either: {save_error}")

    def _restore(self, checkpoint, samples: int) -> None:
        if checkpoint is None:
            return
        checkpoint = self.load_checkpoint(checkpoint)  # sets should_stop if that run had already stopped early
        if self._resumed_progress is not None:
            self._resumed_progress.check_fits(samples, self.metrics, checkpoint.path)

    def _run_epoch(self, epoch, x, y, validation_data, interrupt):
        self.epoch = epoch
        started = time.perf_counter()
        first_batch = self._start_epoch(epoch, len(x))
        flat = self.model.flat_parameters()
        x_buffer = np.empty((min(self.batch_size, len(x)), *x.shape[1:]), dtype=x.dtype)  # never above the data
        for batch in range(first_batch, self.batches_per_epoch):
            self._train_batch(epoch, batch, x, y, x_buffer, flat)
            interrupt.raise_if_set()
        self.batch = self.batches_per_epoch
        self._end_epoch(epoch, started, validation_data)

    def _start_epoch(self, epoch: int, samples: int) -> int:
        """Start from where a loaded checkpoint stopped, or afresh; return the first batch to run."""
        progress, self._resumed_progress = self._resumed_progress or EpochProgress(), None
        progress.load_metric_states(self.metrics)
        progress.take_metric_states(self.metrics)
        self._progress = progress
        self.hook.framework_epoch_start(trainer=self, epoch=epoch)
        if progress.permutation is None:
            progress.permutation = self.rng.permutation(samples)
        return progress.batches_done

    def _train_batch(self, epoch: int, batch: int, x, y, x_buffer: np.ndarray, flat) -> None:
        self.batch = batch
        self.hook.framework_batch_start(trainer=self, epoch=epoch, batch=batch)
        index = self._progress.permutation[batch * self.batch_size : (batch + 1) * self.batch_size]
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
        self._progress.add_batch(batch, loss_value * len(index), len(index), self.metrics)
        self.hook.framework_batch_end(trainer=self, epoch=epoch, batch=batch, loss=loss_value)

    def _end_epoch(self, epoch: int, started: float, validation_data) -> None:
        progress = self._progress
        logs = {"epoch": epoch, "loss": progress.loss_sum / max(progress.seen, 1)}
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
        self._progress = EpochProgress()
        self.hook.framework_epoch_end(trainer=self, epoch=epoch, logs=logs)

    def _notify_exception(self, error):
        try:
            self.hook.framework_exception(trainer=self, error=error)
        except Exception as hook_error:  # the original error matters more; keep both visible
            error.add_note(f"while reporting it, a framework_exception hook failed: {hook_error}")

    def _callbacks_registered(self):
        # With plugins, an error in one of a callback's hooks names the plugin too.
        describe = None if self._plugins is None else functools.partial(self._plugins.describe, "callback")
        return callbacks_registered(self.hook_manager, self.callbacks, describe)

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
        return {
            **self.run.checkpoint_fields(),
            "completed_epochs": len(self.history),
            "batches_done": self._progress.batches_done,
            "global_step": self.global_step,
            "partial_epoch": self._progress.partial_epoch(),
            "should_stop": self.should_stop,
            "stop_reason": self.stop_reason,
            "rng": self.rng.bit_generator.state,
            "history": self.history.epochs,
            "epochs": self.epochs,
            "framework_version": VERSION,
        }

    def save_checkpoint(self, path) -> None:
        """Write everything an exact resume needs to ``path`` (atomically)."""
        write_checkpoint(
            path,
            self.checkpoint_manifest(),
            self.model.state_dict(),
            {**self.optimizer.state_dict(), **self._progress.arrays()},
            {callback.name: callback.state_dict() for callback in self.callbacks if callback.name},
        )

    def load_checkpoint(self, source: "str | Path | Checkpoint") -> Checkpoint:
        """Restore everything from ``source`` (a path, or a checkpoint already read) and return it."""
        checkpoint = source if isinstance(source, Checkpoint) else read_checkpoint(source)
        # Temporary files beside it are leftovers of a process killed mid-write (kill -9).
        remove_stale_temporaries(Path(checkpoint.path).parent)
        manifest = checkpoint.manifest
        self.model.load_state_dict(checkpoint.model, source=str(checkpoint.path))
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
        self._resumed_progress = EpochProgress.from_checkpoint(checkpoint)
        return checkpoint

    # -- input checks -------------------------------------------------------------

    def _check_data(self, split: str, x, y):
        x, y = check_data(split, x, y, self.model)
        if split == "training":
            self._train_size = len(x)
        return x, y


def save_run_arrays(trainer: Trainer, directory) -> tuple:
    """Write the final weights (``weights.npz``) and the per-epoch history (``history.npz``) into ``directory``."""
    weights = save_npz(Path(directory) / "weights.npz", trainer.model.state_dict())
    history = save_npz(Path(directory) / "history.npz", trainer.history.to_arrays())
    return weights, history
