"""``check_callback``: hook names and signatures, the config and state round trips, and
a short fit with the callback in it, writing into the run's own directory."""

import tempfile
from pathlib import Path

import numpy as np

from framework.conformance._assert import assert_same_state, fail, label
from framework.training.callback import Callback
from framework.training.hooks import CallbackHookError, check_callback_hooks


def check_callback(callback: Callback, *, epochs: int = 2, seed: int = 0) -> None:
    """Check ``callback``:

    - it subclasses ``framework.Callback``; every ``framework_*`` attribute is a lifecycle
      hook and takes only arguments its spec passes;
    - ``type(c)(**c.get_config())`` rebuilds an equal config;
    - it survives a short fit (``epochs`` epochs on 40 samples, with validation) in a run
      whose ``output_dir`` is a fresh temporary directory;
    - after that fit, ``load_state_dict(state_dict())`` into a rebuilt callback gives the
      same state (what an exact resume relies on).
    """
    from framework.training.run import Run

    owner = label(callback)
    if not isinstance(callback, Callback):
        fail(owner, "does not subclass framework.Callback")
    try:
        check_callback_hooks(callback, owner)
    except CallbackHookError as exc:
        raise AssertionError(str(exc)) from exc
    clone = type(callback)(**callback.get_config())
    if clone.get_config() != callback.get_config():
        fail(owner, f"config does not round-trip: {callback.get_config()} -> {clone.get_config()}")
    with tempfile.TemporaryDirectory() as directory:
        _tiny_fit(callback, Run(output_dir=Path(directory), name="conformance"), epochs, seed)
    clone.load_state_dict(callback.state_dict())
    assert_same_state(owner, callback.state_dict(), clone.state_dict(), "load_state_dict(state_dict())")


def _tiny_fit(callback: Callback, run, epochs: int, seed: int) -> None:
    from framework.core.layers import Dense
    from framework.core.losses import SoftmaxCrossEntropy
    from framework.core.metrics import Accuracy
    from framework.core.model import Sequential
    from framework.core.optimizers import SGD
    from framework.training.trainer import Trainer

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = Sequential([Dense(2)], input_shape=(3,), rng=rng)
    trainer = Trainer(
        model, SoftmaxCrossEntropy(), SGD(lr=0.1), epochs=epochs, batch_size=8, metrics=[Accuracy()],
        callbacks=[callback], rng=rng, run=run,
    )  # fmt: skip
    trainer.fit(x[:32], y[:32], validation_data=(x[32:], y[32:]))
