"""The confusion matrix as an SVG image: well-formed, one cell per pair of classes, each
named in its tooltip, the counts written while they are legible, darker for larger counts."""

import xml.etree.ElementTree as ElementTree

import numpy as np

from framework.tracking.plots import confusion_matrix_svg

SVG = "{http://www.w3.org/2000/svg}"


def _cells(path):
    root = ElementTree.parse(path).getroot()
    cells = [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    texts = [text.text for text in root.iter(f"{SVG}text")]
    return cells, texts


def test_every_cell_is_named_and_counted_darker_for_larger_counts(tmp_path):
    matrix = np.array([[5, 0, 1], [2, 7, 0], [0, 1, 9]])
    cells, texts = _cells(confusion_matrix_svg(matrix, tmp_path / "plots" / "confusion_matrix.svg"))
    titles = [cell.find(f"{SVG}title").text for cell in cells]
    assert titles[:2] == ["true 0, predicted 0: 5", "true 0, predicted 1: 0"] and len(cells) == 9
    assert {"5", "7", "9", "predicted class", "true class"} <= set(texts)
    darkness = {
        int(t.rpartition(": ")[2]): sum(map(int, c.get("fill")[4:-1].split(","))) for t, c in zip(titles, cells)
    }
    assert darkness[9] < darkness[7] < darkness[5] < darkness[0]


def test_many_classes_keep_their_tooltips_but_not_their_counts(tmp_path):
    matrix = np.arange(40 * 40).reshape(40, 40)
    cells, texts = _cells(confusion_matrix_svg(matrix, tmp_path / "confusion_matrix.svg"))
    assert len(cells) == 1600 and cells[-1].find(f"{SVG}title").text == "true 39, predicted 39: 1599"
    assert "1599" not in texts
