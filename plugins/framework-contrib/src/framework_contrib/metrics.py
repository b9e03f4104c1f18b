"""Macro-averaged F1: a metric whose state is an array (a confusion matrix)."""

import numpy as np

from framework import Metric, confusion_matrix


class MacroF1(Metric):
    """The unweighted mean over classes of ``F1 = 2 TP / (2 TP + FP + FN)``, counting only
    classes that occur in the targets or the predictions. ``pred`` is the model's output
    (logits or probabilities: the predicted class is the largest; one column is a binary
    logit, class 1 above 0).

    The state is the running confusion matrix ``matrix[true, predicted]``; it grows to
    the number of classes seen, so the metric needs no class count.
    """

    name = "macro_f1"
    task = "classification"
    higher_is_better = True
    state_names = ("matrix",)

    def reset(self):
        self.matrix = np.zeros((0, 0), dtype=np.int64)

    def update(self, pred, target):
        classes = pred.shape[1] if pred.ndim == 2 and pred.shape[1] > 1 else 2
        classes = max(classes, len(self.matrix))
        grown = np.zeros((classes, classes), dtype=np.int64)
        grown[: len(self.matrix), : len(self.matrix)] = self.matrix
        self.matrix = grown + confusion_matrix(pred, target, classes)

    def result(self):
        true_positives = np.diag(self.matrix).astype(np.float64)
        denominators = self.matrix.sum(axis=0) + self.matrix.sum(axis=1)  # 2 TP + FP + FN
        present = denominators > 0
        if not present.any():
            return float("nan")
        return float(np.mean(2 * true_positives[present] / denominators[present]))
