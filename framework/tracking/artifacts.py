"""Files the logger uploads, written into the run's staging directory first (so
they survive an outage and can be uploaded later): the redacted config and Hydra
files, curves and confusion matrix as PNG, redacted checkpoint copies.

Plots use matplotlib's object API with the Agg canvas: no pyplot, no change to
the user's backend, no window."""

import json
import math
from pathlib import Path

import numpy as np

from framework.tracking.params import is_number
from framework.training.secrets import Redactor, redact_config, redact_yaml_file

SKIPPED_CURVES = ("epoch",)


def hydra_files(output_dir: Path | None, staging: Path, redactor: Redactor) -> Path | None:
    """Redacted copies of ``<output_dir>/.hydra/*.yaml`` in ``staging/hydra``."""
    if output_dir is None or not (Path(output_dir) / ".hydra").is_dir():
        return None
    target = staging / "hydra"
    for source in sorted((Path(output_dir) / ".hydra").glob("*.yaml")):
        redact_yaml_file(source, target / source.name, redactor)
    return target if target.is_dir() else None


def redacted_checkpoint(source: Path, target: Path, redactor: Redactor) -> Path:
    """A copy of a checkpoint whose manifest has its config's secrets replaced (arrays unchanged)."""
    from framework.core.npz import load_npz, save_npz

    arrays = load_npz(source)
    if "manifest" in arrays:
        manifest = json.loads(str(arrays["manifest"]))
        if "config" in manifest:
            manifest["config"] = redact_config(manifest["config"])
        arrays["manifest"] = np.array(redactor.text(json.dumps(manifest)))
    return save_npz(target, arrays)


def _figure(width=6.4, height=4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def prepare_figures() -> None:
    """Import matplotlib and make one canvas (the figure process does it before its first request).
    The first canvas of a process looks IPython up in ``sys.modules`` and fails on a half-imported
    one, which MLflow imports when it logs a model: it must not be made while a sender is busy."""
    _figure()


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


def _finite(values) -> bool:
    return any(is_number(v) and math.isfinite(v) for v in values)


def curve_plots(epochs: list[dict], directory: Path) -> list[Path]:
    """One PNG per quantity: ``loss.png`` (training and validation), one per metric, ``lr.png`` (when it changed)."""
    directory.mkdir(parents=True, exist_ok=True)
    keys: dict[str, None] = {}
    for record in epochs:
        keys.update(dict.fromkeys(k for k, v in record.items() if is_number(v)))
    steps = [record.get("epoch", index + 1) for index, record in enumerate(epochs)]
    written = []
    for key in keys:
        if key in SKIPPED_CURVES or key.startswith("val_") or key == "seconds":
            continue
        series = [(key, "training")] if key != "lr" else [(key, "learning rate")]
        if f"val_{key}" in keys:
            series.append((f"val_{key}", "validation"))
        values = {name: [record.get(name, float("nan")) for record in epochs] for name, _ in series}
        if not any(_finite(v) for v in values.values()) or (key == "lr" and len(set(values[key])) == 1):
            continue  # nothing to draw, or a learning rate that never changed (its param says it)
        figure = _figure()
        axes = figure.add_subplot()
        for name, label in series:
            axes.plot(steps, values[name], marker="o", markersize=3, label=label)
        _integer_epochs(axes)
        axes.set_ylabel(key)
        axes.set_title(key if key != "lr" else "learning rate")
        axes.grid(alpha=0.3)
        axes.legend()
        written.append(_save(figure, directory / f"{key}.png", MARGINS))
    for key in keys:  # validation-only values (added by callbacks) get their own plot
        if key.startswith("val_") and key[4:] not in keys and _finite([r.get(key) for r in epochs]):
            figure = _figure()
            axes = figure.add_subplot()
            axes.plot(steps, [r.get(key, float("nan")) for r in epochs], marker="o", markersize=3)
            _integer_epochs(axes)
            axes.set_title(key)
            axes.grid(alpha=0.3)
            written.append(_save(figure, directory / f"{key}.png", MARGINS))
    return written


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


def confusion_matrix_csv(matrix, path: Path) -> Path:
    matrix = np.asarray(matrix)
    header = "true\\predicted," + ",".join(str(j) for j in range(matrix.shape[1]))
    rows = [f"{i}," + ",".join(str(int(v)) for v in row) for i, row in enumerate(matrix)]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


BEST_COLOR, OTHER_COLOR = "tab:orange", "tab:blue"


def comparison_plot(children: list[dict], monitor: str, best_run_id: str | None, path: Path) -> Path:
    """Left: the monitored value per epoch for every child; right: each child's final value.
    The best child is orange in both panels, every other one blue."""
    figure = _figure(12, 4.8)
    curves, bars = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    names, finals, colors = [], [], []
    for child in children:
        is_best = child["run_id"] == best_run_id
        color = BEST_COLOR if is_best else OTHER_COLOR
        history = child.get("history") or []
        if history:
            steps, values = zip(*history)
            curves.plot(
                steps, values, color=color, marker="o", markersize=3, linewidth=2.5 if is_best else 1.0,
                alpha=1.0 if is_best else 0.6, label=child["name"], zorder=3 if is_best else 2,
            )  # fmt: skip
        final = child.get("final")
        if final is not None and math.isfinite(final):
            names.append(child["name"])
            finals.append(final)
            colors.append(color)
    _integer_epochs(curves)
    curves.set_ylabel(monitor)
    curves.set_title(f"{monitor} per epoch (best in orange)")
    curves.grid(alpha=0.3)
    if 0 < len(children) <= 12 and curves.get_legend_handles_labels()[1]:
        curves.legend(fontsize=7)
    positions = range(len(names))
    bars.barh(list(positions), finals, color=colors)
    bars.set_yticks(list(positions))
    bars.set_yticklabels([name if len(name) <= 40 else name[:37] + "..." for name in names], fontsize=7)
    bars.invert_yaxis()
    bars.set_xlabel(f"final {monitor}")
    bars.set_title("final value per run (best in orange)")
    bars.grid(alpha=0.3, axis="x")
    return _save(figure, path)  # run names of any length: measured, not fixed
