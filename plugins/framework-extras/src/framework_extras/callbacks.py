"""The timer callback: where the time of a run goes, in the history.

A callback is a plugin: while ``fit`` runs, the trainer registers it and calls its
``framework_*`` methods as hook implementations (see ``framework/training/hookspecs.py``).
Each method takes only the hook arguments it uses.
"""

import time

from framework import Callback, check_bool


class Timer(Callback):
    """Wall-clock timing of training.

    Adds to every epoch's logs (so to ``history`` and whatever tracks the logs):

    - ``time_per_batch``: mean seconds per training step, from ``batch_start``
      to ``batch_end`` (forward, backward, optimizer step);
    - ``time_elapsed``: seconds since training started, counting the time
      before a resume.

    At the end of ``fit`` it prints one summary line (``verbose=True``) and
    keeps it in ``summary``. ``elapsed`` survives a checkpoint.
    """

    name = "timer"

    def __init__(self, verbose: bool = True):
        self.verbose = check_bool("timer", "verbose", verbose)
        self.elapsed = 0.0  # seconds in earlier (resumed-from) runs plus this one, up to the last epoch end
        self.summary = ""
        self._fit_started = self._batch_started = 0.0
        self._batch_seconds, self._batches = 0.0, 0
        self._elapsed_before = 0.0

    def logged_values(self) -> tuple[str, ...]:
        return ("time_per_batch", "time_elapsed")  # so a run may monitor them (trainer.monitor=time_elapsed)

    def framework_fit_start(self):
        self._fit_started = time.perf_counter()
        self._elapsed_before = self.elapsed

    def framework_epoch_start(self):
        self._batch_seconds, self._batches = 0.0, 0

    def framework_batch_start(self):
        self._batch_started = time.perf_counter()

    def framework_batch_end(self):
        self._batch_seconds += time.perf_counter() - self._batch_started
        self._batches += 1

    def framework_epoch_end(self, logs):
        self.elapsed = self._elapsed_before + time.perf_counter() - self._fit_started
        logs["time_per_batch"] = self._batch_seconds / max(self._batches, 1)
        logs["time_elapsed"] = self.elapsed

    def framework_fit_end(self, history):
        per_batch = history["time_per_batch"]
        mean = sum(per_batch) / len(per_batch) if per_batch else float("nan")
        self.summary = f"timer: {len(history)} epochs in {self.elapsed:.2f} s, {mean * 1e3:.3g} ms per batch"
        if self.verbose:
            print(self.summary)

    def state_dict(self) -> dict:
        return {"elapsed": self.elapsed}

    def load_state_dict(self, state: dict) -> None:
        self.elapsed = float(state["elapsed"])

    def get_config(self) -> dict:
        return {"verbose": self.verbose}
