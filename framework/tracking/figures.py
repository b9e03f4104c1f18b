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
import json
import os
import select
import subprocess
import sys
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
    """The running ``python -m framework.tracking.figures`` and its pipes."""

    def __init__(self):
        import framework

        package_parent = str(Path(framework.__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
        environment = {**os.environ, "PYTHONPATH": path, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "framework.tracking.figures"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environment,
            text=True,
            start_new_session=True,  # Ctrl-C stops the run, which ends this process by closing its input
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, epochs: list[dict], matrix, directory) -> None:
        request = {"epochs": epochs, "matrix": matrix, "directory": str(directory)}
        try:
            self.process.stdin.write(json.dumps(request, default=_plain) + "\n")
            self.process.stdin.flush()
        except (OSError, ValueError) as exc:
            raise FigureProcessFailed(f"{type(exc).__name__}: {exc}") from exc

    def receive(self, timeout: float = ANSWER_TIMEOUT) -> list[Path]:
        try:
            ready, _, _ = select.select([self.process.stdout], [], [], timeout)
            line = self.process.stdout.readline() if ready else ""
        except (OSError, ValueError) as exc:
            raise FigureProcessFailed(f"{type(exc).__name__}: {exc}") from exc
        if not line:
            raise FigureProcessFailed("the figure process ended or did not answer")
        answer = json.loads(line)
        if "error" in answer:
            raise FigureProcessFailed(answer["error"])
        return [Path(path) for path in answer["written"]]

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
    except OSError:
        _shared = None
        return
    atexit.register(_shared.close)


class Drawing:
    """Figures being drawn: asked of the figure process at once when it runs; :meth:`result` waits
    for them, or draws them here when it is not running or fails."""

    def __init__(self, epochs: list[dict], matrix, directory):
        self.request = (epochs, matrix, directory)
        self.sent = False
        if running():
            try:
                _shared.send(*self.request)
                self.sent = True
            except FigureProcessFailed:
                _stop()

    def result(self) -> list[Path]:
        if self.sent:
            try:
                return _shared.receive()
            except FigureProcessFailed:
                _stop()
        return draw_figures(*self.request)


def draw(epochs: list[dict], matrix, directory) -> list[Path]:
    """The figures, by the figure process when it runs, else (or when it fails) in this process."""
    return Drawing(epochs, matrix, directory).result()


def _stop() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None


def _plain(value):
    """NumPy numbers and arrays as JSON values (``json.dumps``'s ``default``)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def running() -> bool:
    return _shared is not None and _shared.alive()


def main() -> None:
    from framework.tracking import artifacts

    artifacts.prepare_figures()  # the imports, before the first request arrives
    for line in sys.stdin:
        try:
            request = json.loads(line)
            written = draw_figures(request["epochs"], request["matrix"], request["directory"])
            answer = {"written": [str(path) for path in written]}
        except Exception as exc:  # reported to the run, which draws the figures itself
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
