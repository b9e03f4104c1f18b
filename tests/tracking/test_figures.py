"""The figure process: a tracked run's figures drawn on another core, never lost."""

import signal

import numpy as np
import pytest

from framework.tracking import figures

EPOCHS = [
    {"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e, "accuracy": np.float32(0.5 + e / 20), "lr": 0.01 / e}
    for e in (1, 2, 3)
]
MATRIX = np.array([[5, 1], [2, 7]])
DRAWN = {"loss.png", "accuracy.png", "lr.png", "confusion_matrix.png"}


@pytest.fixture
def figure_process():
    figures.start()
    assert figures.running()
    yield figures._shared
    if figures._shared is not None:
        figures._shared.close()
        figures._shared = None


def test_the_figure_process_draws_every_figure_of_the_run(figure_process, tmp_path):
    written = figures.draw(EPOCHS, MATRIX, tmp_path / "plots")
    assert {path.name for path in written} == DRAWN
    assert all(path.is_file() and path.read_bytes().startswith(b"\x89PNG") for path in written)
    assert figures.running()  # and stays up for the next job of a sweep


def test_figures_are_drawn_in_the_run_when_the_figure_process_is_gone(figure_process, tmp_path):
    figure_process.process.kill()
    figure_process.process.wait()
    written = figures.draw(EPOCHS, MATRIX, tmp_path / "plots")
    assert {path.name for path in written} == DRAWN and all(path.is_file() for path in written)
    assert not figures.running()


def test_a_request_the_figure_process_cannot_draw_is_drawn_in_the_run(figure_process, tmp_path):
    target = tmp_path / "plots"
    target.write_text("a file where the figures' directory goes")
    with pytest.raises(OSError):  # the run's own attempt reports the real problem
        figures.draw(EPOCHS, MATRIX, target)
    assert target.read_text() == "a file where the figures' directory goes"


def test_an_answer_nobody_collected_is_never_taken_for_the_next_runs(figure_process, tmp_path):
    figures.Drawing(EPOCHS, MATRIX, tmp_path / "failed-run" / "plots")  # its run failed before collecting
    written = figures.Drawing(EPOCHS, None, tmp_path / "next-run" / "plots").result()
    assert {path.parent.parent.name for path in written} == {"next-run"}
    assert {path.name for path in written} == DRAWN - {"confusion_matrix.png"}


def test_a_figure_process_that_stops_reading_costs_the_run_its_deadline_not_its_figures(figure_process, tmp_path):
    figure_process.process.send_signal(signal.SIGSTOP)
    try:
        long_history = [{**EPOCHS[0], "epoch": e, "note": "x" * 100} for e in range(1, 3000)]  # > a pipe's buffer
        with pytest.raises(figures.FigureProcessFailed, match="does not read"):
            figure_process.send(long_history, None, tmp_path / "plots", timeout=0.5)
    finally:
        figure_process.process.send_signal(signal.SIGCONT)


def test_a_learning_rate_that_never_changed_gets_no_figure(figure_process, tmp_path):
    constant = [{**record, "lr": 0.01} for record in EPOCHS]
    written = figures.draw(constant, None, tmp_path / "plots")
    assert {path.name for path in written} == {"loss.png", "accuracy.png"}


def test_the_figure_process_ends_when_the_run_closes_its_input(figure_process):
    figure_process.close()
    assert figure_process.process.returncode == 0
