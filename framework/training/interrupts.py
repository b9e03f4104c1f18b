"""Turns SIGINT and SIGTERM into a request to stop after the current batch."""

import signal
import threading
from contextlib import contextmanager

from framework.core.errors import FrameworkError


class Interrupted(FrameworkError):
    """Training was stopped by a signal after finishing a batch; a checkpoint can resume it."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"training interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class InterruptFlag:
    def __init__(self):
        self.signum: int | None = None

    def raise_if_set(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)


@contextmanager
def stop_after_batch_on_signals():
    """Within the block, the first SIGINT/SIGTERM only sets the returned flag; a
    second SIGINT raises ``KeyboardInterrupt`` at once. Outside the main thread,
    where handlers cannot be installed, signals keep their usual effect."""
    flag = InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def request_stop(signum, frame):
        if flag.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.signum = signum

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
