"""The figures MLflow cannot draw from the logged metrics: a run's confusion matrix and a
sweep's comparison of its runs. (Per-epoch curves are MLflow's own charts.)

Drawn with matplotlib's object API on the Agg canvas: no pyplot, no change to the
user's backend, no window."""

import math
from pathlib import Path

import numpy as np


def _figure(width=6.4, height=4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: Path, margins: tuple[float, float, float, float] | None = None) -> Path:
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


def _integer_epochs(axes) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def confusion_matrix_plot(matrix, path: Path, title: str = "confusion matrix (test split)") -> Path:
    matrix = np.asarray(matrix)
    classes = matrix.shape[0]
    counted = classes <= 30  # each cell shows its count; more would not be legible
    size = min(10.0, 2.5 + 0.5 * classes)
    figure = _figure(size + (0 if counted else 1), size)
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
    return _save(figure, path, MARGINS)


BEST_COLOR, OTHER_COLOR = "tab:orange", "tab:blue"


def comparison_plot(children: list[dict], monitor: str, best_run_id: str | None, path: Path) -> Path:
    """Left: the monitored value per epoch for every child; right: each child's final value.
    The best child is orange in both panels, every other one blue; a pruned trial (``pruned``) is
    dashed and hatched, and named so: its last value is from the epoch it was stopped at."""
    figure = _figure(12, 4.8)
    curves, bars = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    names, finals, colors, hatches = [], [], [], []
    for child in children:
        is_best, pruned = child["run_id"] == best_run_id, child.get("pruned", False)
        color, name = BEST_COLOR if is_best else OTHER_COLOR, child["name"] + (" (pruned)" if pruned else "")
        history = child.get("history") or []
        if history:
            steps, values = zip(*history)
            curves.plot(
                steps, values, color=color, marker="x" if pruned else "o", markersize=3, linestyle="--" if pruned else "-",
                linewidth=2.5 if is_best else 1.0, alpha=1.0 if is_best else 0.6, label=name, zorder=3 if is_best else 2,
            )  # fmt: skip
        final = child.get("final")
        if final is not None and math.isfinite(final):
            names.append(name if len(name) <= 40 else name[:37] + "...")
            finals.append(final)
            colors.append(color)
            hatches.append("//" if pruned else "")
    _integer_epochs(curves)
    curves.set_ylabel(monitor)
    curves.set_title(f"{monitor} per epoch (best in orange)")
    curves.grid(alpha=0.3)
    if 0 < len(children) <= 12 and curves.get_legend_handles_labels()[1]:
        curves.legend(fontsize=7)
    positions = list(range(len(names)))
    bars.barh(positions, finals, color=colors, hatch=hatches, edgecolor="white")
    bars.set_yticks(positions)
    bars.set_yticklabels(names, fontsize=7)
    bars.invert_yaxis()
    bars.set_xlabel(f"last {monitor} (a pruned trial's at the epoch it stopped)")
    bars.set_title("last value per run (best in orange)")
    bars.grid(alpha=0.3, axis="x")
    return _save(figure, path)  # run names of any length: measured, not fixed
