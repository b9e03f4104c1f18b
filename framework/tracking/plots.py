"""The figure MLflow cannot draw from a run's logged metrics: its confusion matrix (the per-epoch
curves are MLflow's own charts). Written as SVG by hand, which MLflow's artifact viewer shows as
an image: a tracked run never imports a plotting library (matplotlib alone would cost it a third
of a second)."""

from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

#: The lightest and darkest cell colours (RGB): no count, the largest count.
LIGHT, DARK = (247, 251, 255), (8, 48, 107)
#: Up to this many classes each cell shows its count; beyond, its colour (and its tooltip).
COUNTED_CLASSES = 30
LEFT, TOP, BOTTOM, RIGHT = 64, 40, 52, 16


def confusion_matrix_svg(matrix, path: Path, title: str = "confusion matrix (test split)") -> Path:
    """``matrix`` (true class by row, predicted by column) as an SVG heat map in ``path``: a cell's
    colour grows with its count, which it shows (and always names in its tooltip)."""
    matrix = np.asarray(matrix, dtype=np.int64)
    classes = matrix.shape[0]
    cell = 36 if classes <= COUNTED_CLASSES else max(4, 720 // classes)
    side = cell * classes
    width, height = LEFT + side + RIGHT, TOP + side + BOTTOM
    largest = max(int(matrix.max()) if matrix.size else 0, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{LEFT + side / 2}" y="{TOP / 2 + 5}" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<text x="{LEFT + side / 2}" y="{height - 10}" text-anchor="middle" font-size="12">predicted class</text>',
        f'<text transform="translate(16 {TOP + side / 2}) rotate(-90)" text-anchor="middle" font-size="12">'
        "true class</text>",
    ]
    for i in range(classes):
        for j in range(classes):
            parts.append(_cell(i, j, int(matrix[i, j]), largest, cell, classes <= COUNTED_CLASSES))
    parts += _class_labels(classes, cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*parts, "</svg>"]) + "\n", encoding="utf-8")
    return path


def _cell(true: int, predicted: int, count: int, largest: int, cell: int, counted: bool) -> str:
    share = count / largest
    red, green, blue = (round(light + (dark - light) * share) for light, dark in zip(LIGHT, DARK))
    x, y = LEFT + predicted * cell, TOP + true * cell
    rect = (
        f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="rgb({red},{green},{blue})">'
        f"<title>true {true}, predicted {predicted}: {count}</title></rect>"
    )
    if not counted:
        return rect
    colour = "white" if share > 0.5 else "black"
    centre_x, centre_y = x + cell / 2, y + cell / 2 + 4
    return (
        rect + f'<text x="{centre_x}" y="{centre_y}" text-anchor="middle" font-size="11" fill="{colour}">{count}</text>'
    )


def _class_labels(classes: int, cell: int) -> list[str]:
    """Each class's number along both axes (every few classes when there are many)."""
    every = 1 if classes <= COUNTED_CLASSES else -(-12 // cell)  # labels 12 pixels apart at least
    labels = []
    for k in range(0, classes, every):
        middle = k * cell + cell / 2
        labels.append(
            f'<text x="{LEFT + middle}" y="{TOP + classes * cell + 16}" text-anchor="middle" font-size="10">{k}</text>'
        )
        labels.append(f'<text x="{LEFT - 6}" y="{TOP + middle + 4}" text-anchor="end" font-size="10">{k}</text>')
    return labels
