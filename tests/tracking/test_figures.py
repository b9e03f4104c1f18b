"""The figure process: a tracked run's figures drawn on another core, never lost."""

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


def test_a_learning_rate_that_never_changed_gets_no_figure(figure_process, tmp_path):
    constant = [{**record, "lr": 0.01} for record in EPOCHS]
    written = figures.draw(constant, None, tmp_path / "plots")
    assert {path.name for path in written} == {"loss.png", "accuracy.png"}


def test_the_figure_process_ends_when_the_run_closes_its_input(figure_process):
    figure_process.close()
    assert figure_process.process.returncode == 0
