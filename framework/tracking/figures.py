"""A tracked run's figures, drawn in a process of their own.

Drawing the curves and the confusion matrix is a few tenths of a second of Python
(matplotlib). In the run's process it would compete with the thread that sends the
model to MLflow at the same moment; in a process of its own it runs on another core.
The figure process starts when the first tracked fit of a process starts, so that its
own start (Python, NumPy, matplotlib) overlaps the training, and the jobs of a sweep
run in one process share it. When it cannot start, fails or does not answer, the
figures are drawn in the run's process: they are never lost for it.

``python -m framework.tracking.figures`` is that process: one JSON request per line on
its standard input (``{"epochs": [...], "matrix": [[...]] or null, "directory": "..."}``),
one JSON answer per line on its standard output (``{"written": [paths]}`` or
``{"error": "..."}``). It ends when its standard input closes (its parent ended).
"""

import atexit
import itertools
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

#: Seconds to wait for the figure process's answer before drawing in the run's process instead.
ANSWER_TIMEOUT = 60.0


def draw_figures(epochs: list[dict], matrix, directory) -> list[Path]:
    """The curves of ``epochs`` and, given a confusion ``matrix``, its plot, as PNG in ``directory``."""
    from framework.tracking import artifacts

    directory = Path(directory)
    written = artifacts.curve_plots(epochs, directory)
    if matrix is not None:
        written.append(artifacts.confusion_matrix_plot(matrix, directory / "confusion_matrix.png"))
    return written


class FigureProcessFailed(RuntimeError):
    """The figure process ended, did not answer in time, or could not draw."""


class FigureProcess:
    """The running ``python -m framework.tracking.figures`` and its pipes. Each request carries a
    number that its answer repeats: an answer nobody collected (its run failed meanwhile) is
    skipped, never taken for a later request's."""

    def __init__(self):
        import framework

        environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        package_parent = str(Path(framework.__file__).resolve().parent.parent)
        if package_parent not in _site_directories():  # a checkout on sys.path, not an installed package
            environment["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "framework.tracking.figures"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environment,
            start_new_session=True,  # Ctrl-C stops the run, which ends this process by closing its input
        )
        os.set_blocking(self.process.stdin.fileno(), False)  # a request never blocks past its deadline
        self._numbers = itertools.count()
        self._unread = b""

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, epochs: list[dict], matrix, directory, timeout: float = ANSWER_TIMEOUT) -> int:
        """Write one request; returns its number."""
        number = next(self._numbers)
        request = {"id": number, "epochs": epochs, "matrix": matrix, "directory": str(Path(directory).resolve())}
        data = (json.dumps(request, default=_plain) + "\n").encode()
        deadline, descriptor = time.monotonic() + timeout, self.process.stdin.fileno()
        try:
            while data:
                _, writable, _ = select.select([], [descriptor], [], max(0.0, deadline - time.monotonic()))
                if not writable:
                    raise FigureProcessFailed("the figure process does not read its requests")
                data = data[os.write(descriptor, data) :]
        except OSError as exc:
            raise FigureProcessFailed(f"{type(exc).__name__}: {exc}") from exc
        return number

    def receive(self, number: int, timeout: float = ANSWER_TIMEOUT) -> list[Path]:
        """The figures of request ``number``."""
        deadline = time.monotonic() + timeout
        answer = self._answer(deadline)
        while answer.get("id") != number:  # an earlier request's, left unread
            answer = self._answer(deadline)
        written = answer.get("written")
        if "error" in answer or not isinstance(written, list):
            raise FigureProcessFailed(str(answer.get("error", "an answer without the figures")))
        return [Path(path) for path in written]

    def _answer(self, deadline: float) -> dict:
        descriptor = self.process.stdout.fileno()
        try:
            while b"\n" not in self._unread:
                ready, _, _ = select.select([descriptor], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(descriptor, 1 << 16) if ready else b""
                if not chunk:
                    raise FigureProcessFailed("the figure process ended or did not answer in time")
                self._unread += chunk
        except OSError as exc:
            raise FigureProcessFailed(f"{type(exc).__name__}: {exc}") from exc
        line, self._unread = self._unread.split(b"\n", 1)
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise FigureProcessFailed(f"an answer that is not one: {line[:80]!r}")
        return answer

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


_shared: FigureProcess | None = None


def start() -> None:
    """Start this process's figure process, unless it runs already (or cannot start: then figures
    are drawn here)."""
    global _shared
    if running():
        return
    try:
        _shared = FigureProcess()
    except Exception:  # no executable to start (an embedded Python), no process allowed: drawn here
        _shared = None
        return
    atexit.register(_shared.close)


class Drawing:
    """Figures being drawn: asked of the figure process at once when it runs; :meth:`result` waits
    for them, or draws them here when it is not running or fails (``failure`` then says why)."""

    def __init__(self, epochs: list[dict], matrix, directory):
        self.request = (epochs, matrix, directory)
        self.number: int | None = None
        self.failure: str | None = None
        if running():
            try:
                self.number = _shared.send(*self.request)
            except FigureProcessFailed as exc:
                self._failed(exc)

    def result(self, before_drawing_here=None) -> list[Path]:
        """The figures. ``before_drawing_here`` is called before they are drawn in this process (the
        logger waits there for its sender to be idle: see :func:`framework.tracking.artifacts.prepare_figures`)."""
        if self.number is not None and running():
            try:
                return _shared.receive(self.number)
            except FigureProcessFailed as exc:
                self._failed(exc)
        if before_drawing_here is not None:
            before_drawing_here()
        return draw_figures(*self.request)

    def _failed(self, error: FigureProcessFailed) -> None:
        self.failure = str(error)
        _stop()


def draw(epochs: list[dict], matrix, directory) -> list[Path]:
    """The figures, by the figure process when it runs, else (or when it fails) in this process."""
    return Drawing(epochs, matrix, directory).result()


def _stop() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None


def _site_directories() -> set[str]:
    import site

    return {str(Path(d).resolve()) for d in [*site.getsitepackages(), site.getusersitepackages()]}


def _plain(value):
    """NumPy numbers and arrays as JSON values (``json.dumps``'s ``default``)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def running() -> bool:
    return _shared is not None and _shared.alive()


def main() -> None:
    from framework.tracking import artifacts

    answers, sys.stdout = sys.stdout, sys.stderr  # whatever a library prints is not an answer
    artifacts.prepare_figures()  # the imports, before the first request arrives
    for line in sys.stdin:
        request = {}
        try:
            request = json.loads(line)
            written = draw_figures(request["epochs"], request["matrix"], request["directory"])
            answer = {"written": [str(path) for path in written]}
        except Exception as exc:  # reported to the run, which draws the figures itself
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        number = request.get("id") if isinstance(request, dict) else None
        answers.write(json.dumps({"id": number, **answer}) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
