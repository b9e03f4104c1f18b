"""The figure MLflow cannot draw from a run's logged metrics: its confusion matrix (the per-epoch
curves are MLflow's own charts), and what every figure is drawn with.

Drawn with matplotlib's object API on the Agg canvas: no pyplot, no change to the
user's backend, no window."""

from pathlib import Path

import numpy as np


def new_figure(width=6.4, height=4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def save(figure, path: Path, margins: tuple[float, float, float, float] | None = None) -> Path:
    """Write ``figure`` as PNG. With ``margins`` (left, right, bottom, top, in inches) the layout is
    fixed: drawn once, where ``tight_layout`` draws it twice to measure it. PNG compression level 1:
    written several times faster, a few kilobytes larger."""
    if margins is None:
        figure.tight_layout()
    else:
        width, height = figure.get_size_inches()
        left, right, bottom, top = margins
        figure.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, pil_kwargs={"compress_level": 1})
    return path


#: Room for tick labels such as ``0.00100``, the axis labels and a title.
MARGINS = (0.9, 0.2, 0.55, 0.4)


def integer_epochs(axes) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def confusion_matrix_plot(matrix, path: Path, title: str = "confusion matrix (test split)") -> Path:
    matrix = np.asarray(matrix)
    classes = matrix.shape[0]
    counted = classes <= 30  # each cell shows its count; more would not be legible
    size = min(10.0, 2.5 + 0.5 * classes)
    figure = new_figure(size + (0 if counted else 1), size)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    if not counted:  # the colour scale is what tells the counts apart
        figure.colorbar(image, ax=axes)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    axes.set_xticks(range(classes))
    axes.set_yticks(range(classes))
    if counted:
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(classes):
            for j in range(classes):
                color = "white" if matrix[i, j] > threshold else "black"
                axes.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=color, fontsize=8)
    return save(figure, path, MARGINS)
