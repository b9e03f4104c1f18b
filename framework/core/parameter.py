"""A trainable array and its gradient, under a stable name."""

from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=False)
class Parameter:
    """``value`` and ``grad`` are filled in when the owning model allocates its
    buffers; until then they are ``None`` and only ``shape`` is known."""

    name: str
    shape: tuple[int, ...]
    initializer: object = None
    value: np.ndarray | None = field(default=None, repr=False)
    grad: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))
