"""What ``fit`` returns: one record per epoch, plus the test evaluation."""

import numpy as np


class History:
    def __init__(self, epochs: list[dict] | None = None):
        self.epochs: list[dict] = list(epochs or [])
        #: Test-split results (``test_loss``, metrics, ``confusion_matrix``) once evaluated.
        self.test: dict = {}
        #: Why training ended: "completed", "early_stopped".
        self.stop_reason: str = "completed"

    def append(self, logs: dict) -> None:
        self.epochs.append(dict(logs))

    def __getitem__(self, key: str) -> list:
        """One column: ``history["val_loss"]`` is that value for every epoch."""
        return [record.get(key, float("nan")) for record in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for record in self.epochs:
            seen.update(dict.fromkeys(record))
        return list(seen)

    def last(self) -> dict:
        return dict(self.epochs[-1]) if self.epochs else {}

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Columns as arrays, for an ``.npz`` file."""
        return {key: np.asarray(self[key], dtype=np.float64) for key in self.keys}

    def __repr__(self) -> str:
        return f"History({len(self)} epochs, last={self.last()})"
