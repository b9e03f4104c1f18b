"""Weight initializers. Each draws from the generator it is given, so the same
seed gives the same weights; fans come from a ``(fan_in, fan_out)`` shape."""

from typing import ClassVar

import numpy as np

from framework.core.describe import describe
from framework.core.errors import InvalidValueError
from framework.core.validation import check_number


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2:
        size = int(np.prod(shape)) if shape else 1
        return size, size
    return int(np.prod(shape[:-1])), int(shape[-1])


class Initializer:
    """``init(shape, rng, dtype)`` returns a new array of that shape and dtype."""

    name: ClassVar[str] = ""

    def __call__(self, shape: tuple[int, ...], rng: np.random.Generator, dtype) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return describe(self)


class Zeros(Initializer):
    name = "zeros"

    def __call__(self, shape, rng, dtype):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    name = "ones"

    def __call__(self, shape, rng, dtype):
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    name = "constant"

    def __init__(self, value: float = 0.0):
        self.value = check_number("Constant initializer", "value", value)

    def __call__(self, shape, rng, dtype):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class Normal(Initializer):
    """N(mean, std^2)."""

    name = "normal"

    def __init__(self, std: float = 0.01, mean: float = 0.0):
        self.std = check_number("Normal initializer", "std", std, low=0, low_open=True)
        self.mean = check_number("Normal initializer", "mean", mean)

    def __call__(self, shape, rng, dtype):
        return (rng.standard_normal(shape, dtype=np.float64) * self.std + self.mean).astype(dtype)

    def get_config(self):
        return {"std": self.std, "mean": self.mean}


class Uniform(Initializer):
    """U(-limit, limit)."""

    name = "uniform"

    def __init__(self, limit: float = 0.05):
        self.limit = check_number("Uniform initializer", "limit", limit, low=0, low_open=True)

    def __call__(self, shape, rng, dtype):
        return rng.uniform(-self.limit, self.limit, size=shape).astype(dtype)

    def get_config(self):
        return {"limit": self.limit}


class GlorotUniform(Initializer):
    """Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (notebook 000's Dense)."""

    name = "glorot_uniform"

    def __call__(self, shape, rng, dtype):
        fan_in, fan_out = fans(shape)
        return Uniform(np.sqrt(6.0 / (fan_in + fan_out)))(shape, rng, dtype)


class GlorotNormal(Initializer):
    """Glorot/Xavier normal: N(0, 2 / (fan_in + fan_out))."""

    name = "glorot_normal"

    def __call__(self, shape, rng, dtype):
        fan_in, fan_out = fans(shape)
        return Normal(np.sqrt(2.0 / (fan_in + fan_out)))(shape, rng, dtype)


class HeNormal(Initializer):
    """He/Kaiming normal: N(0, 2 / fan_in), for ReLU layers (notebook 003's Linear)."""

    name = "he_normal"

    def __call__(self, shape, rng, dtype):
        fan_in, _ = fans(shape)
        return Normal(np.sqrt(2.0 / fan_in))(shape, rng, dtype)


class HeUniform(Initializer):
    """He/Kaiming uniform: U(-a, a), a = sqrt(6 / fan_in)."""

    name = "he_uniform"

    def __call__(self, shape, rng, dtype):
        fan_in, _ = fans(shape)
        return Uniform(np.sqrt(6.0 / fan_in))(shape, rng, dtype)


class LecunNormal(Initializer):
    """LeCun normal: N(0, 1 / fan_in), for tanh and SELU-like layers."""

    name = "lecun_normal"

    def __call__(self, shape, rng, dtype):
        fan_in, _ = fans(shape)
        return Normal(np.sqrt(1.0 / fan_in))(shape, rng, dtype)


INITIALIZERS = (Zeros, Ones, Constant, Normal, Uniform, GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal)
_BY_NAME = {cls.name: cls for cls in INITIALIZERS}


def get(identifier) -> Initializer:
    """An initializer from an instance, a built-in name, or ``{"name": ..., **args}``.

    Plugin initializers are resolved by name through the plugin registry by the
    model builder; here, without plugins, only the built-in names are known.
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        identifier = {"name": identifier}
    if isinstance(identifier, dict) and isinstance(identifier.get("name"), str):
        args = {k: v for k, v in identifier.items() if k != "name"}
        name = identifier["name"]
        if name not in _BY_NAME:
            raise InvalidValueError(
                f"Unknown initializer {name!r}; built-in initializers are: {', '.join(sorted(_BY_NAME))}"
            )
        return _BY_NAME[name](**args)
    raise InvalidValueError(
        f"Cannot interpret {identifier!r} as an initializer: give an Initializer instance, "
        f"a name ({', '.join(sorted(_BY_NAME))}) or a dict with a 'name' key"
    )


def to_config(initializer: Initializer):
    """The inverse of :func:`get`: a name, or a dict when there are arguments."""
    config = initializer.get_config()
    return {"name": initializer.name, **config} if config else initializer.name
