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

import framework
from framework import hookspecs
from framework.core.errors import FileFormatError, InvalidValueError, ShapeError
from framework.core.losses import Loss
from framework.core.metrics import Metric, confusion_matrix
from framework.core.model import Sequential
from framework.core.npz import remove_stale_temporaries, save_npz
from framework.core.optimizers import Optimizer, clip_grad_norm
from framework.core.validation import check_finite, check_number, check_positive_int
from framework.training.callback import Callback
from framework.training.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from framework.training.history import History
from framework.training.interrupts import stop_after_batch_on_signals
from framework.training.run import Run


def _bare_hook_manager():
    from framework.plugins.manager import FrameworkPluginManager

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
    current epoch.
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
        for index, layer in enumerate(model.layers):
            layer_rng = getattr(layer, "rng", None)
            if layer_rng is not None and layer_rng is not rng:
                raise InvalidValueError(
                    f"Trainer: layer {index} ({layer!r}) draws from another generator than the trainer's rng, "
                    "so a checkpoint could not restore it; build the model with the same generator you give the trainer"
                )
        self.metrics = list(metrics)
        self.callbacks = list(callbacks)
        names = [cb.name or type(cb).__name__ for cb in self.callbacks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidValueError(f"Trainer: callbacks must have distinct names, {duplicates} appear more than once")
        self.hook_manager = plugins.manager if plugins is not None else _bare_hook_manager()
        self._plugins = plugins
        self._check_callback_hooks()
        self.hook = self.hook_manager.hook
        #: What this run is (config, output directory, name, resume source, component origins).
        self.run = run if run is not None else Run()
        self.base_lr = optimizer.lr
        self.history = History()
        self.epoch = 0
        self.batch = 0
        self.global_step = 0
        self.should_stop = False
        self._resume_position: tuple[int, np.ndarray | None, dict] | None = None
        # Batches of the running epoch already applied to the weights (0 between epochs);
        # with ``_partial`` and ``_permutation`` it is what a mid-epoch checkpoint records.
        self._batches_done = 0
        self._partial: dict = {}
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
                    self.history.stop_reason = "early_stopped"
                    start = self.epochs + 1
                for epoch in range(start, self.epochs + 1):
                    self._run_epoch(epoch, x, y, validation_data, interrupt)
                    if self.should_stop:
                        self.history.stop_reason = "early_stopped"
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

    def _run_epoch(self, epoch, x, y, validation_data, interrupt):
        self.epoch = epoch
        started = time.perf_counter()
        first_batch, permutation, partial = 0, None, {}
        if self._resume_position is not None:
            first_batch, permutation, partial = self._resume_position
            self._resume_position = None
        count = self.batches_per_epoch
        loss_sum, seen = partial.get("loss_sum", 0.0), partial.get("seen", 0)
        for metric in self.metrics:
            metric.reset()
            if "metrics" in partial:
                metric.total, metric.count = partial["metrics"][metric.name]
        self._batches_done, self._permutation = first_batch, permutation
        self._partial = self._snapshot_partial(loss_sum, seen)
        self.hook.framework_epoch_start(trainer=self, epoch=epoch)
        if permutation is None:
            permutation = self._permutation = self.rng.permutation(len(x))
        flat = self.model.flat_parameters()
        x_buffer = np.empty((self.batch_size, *x.shape[1:]), dtype=x.dtype)
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
        self._batches_done, self._partial, self._permutation = 0, {}, None
        self.hook.framework_epoch_end(trainer=self, epoch=epoch, logs=logs)

    def _notify_exception(self, error):
        try:
            self.hook.framework_exception(trainer=self, error=error)
        except Exception as hook_error:  # the original error matters more; keep both visible
            error.add_note(f"while reporting it, a framework_exception hook failed: {hook_error!r}")

    def _callbacks_registered(self):
        trainer = self

        class Registered:
            def __enter__(self):
                # pluggy calls the most recently registered first: register in reverse
                # so callbacks run in the order they were given.
                for callback in reversed(trainer.callbacks):
                    name = f"callback:{callback.name or id(callback)}"
                    origin = trainer._callback_origin(callback)
                    if origin is not None:  # an error in one of its hooks names the plugin too
                        trainer.hook_manager.descriptions[name] = f"callback {callback.name!r} from {origin}"
                    trainer.hook_manager.register(callback, name=name)

            def __exit__(self, *exc):
                for callback in trainer.callbacks:
                    trainer.hook_manager.unregister(callback)
                    trainer.hook_manager.descriptions.pop(f"callback:{callback.name or id(callback)}", None)

        return Registered()

    def _check_callback_hooks(self) -> None:
        """A misspelled hook or one taking an argument its spec lacks is refused here, not ignored."""
        from framework.plugins.callback_hooks import check_callback_hooks

        for callback in self.callbacks:
            origin = self._callback_origin(callback)
            owner = f"callback {callback.name or type(callback).__name__!r}"
            check_callback_hooks(callback, f"{owner} from {origin}" if origin is not None else owner)

    def _callback_origin(self, callback):
        """The plugin that registered ``callback``'s class, when the trainer has the plugins."""
        registries = getattr(self._plugins, "registries", None) or {}
        registry = registries.get("callback")
        if registry is None or not callback.name or callback.name not in registry:
            return None
        if registry.get(callback.name) is not type(callback):
            return None
        return registry.origin(callback.name)

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
            "rng": self.rng.bit_generator.state,
            "history": self.history.epochs,
            "epochs": self.epochs,
            "framework_version": framework.__version__,
        }

    def _snapshot_partial(self, loss_sum, seen) -> dict:
        """The running epoch's sums so far (taken at each batch end, before validation resets the metrics)."""
        metrics = {metric.name: [metric.total, metric.count] for metric in self.metrics}
        return {"loss_sum": loss_sum, "seen": seen, "metrics": metrics}

    def save_checkpoint(self, path) -> None:
        """Write everything an exact resume needs to ``path`` (atomically)."""
        mid_epoch_permutation = {}
        manifest = self.checkpoint_manifest()
        if manifest["batches_done"]:
            mid_epoch_permutation = {"permutation": self._permutation}
        write_checkpoint(
            path,
            manifest,
            self.model.state_dict(),
            {**self.optimizer.state_dict(), **{f"trainer/{k}": v for k, v in mid_epoch_permutation.items()}},
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
        for callback in self.callbacks:
            if callback.name in checkpoint.callbacks:
                callback.load_state_dict(checkpoint.callbacks[callback.name])
        if manifest["batches_done"]:
            permutation = checkpoint.optimizer["trainer/permutation"]
            self._resume_position = (manifest["batches_done"], permutation, manifest["partial_epoch"])
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
