"""The search space of a study, read from Hydra's sweep syntax.

The same syntax as hydra-optuna-sweeper, on the command line or in
``hydra.sweeper.params``:

- ``choice(a, b)`` or ``a,b``: one of the values (categorical);
- ``range(start, stop, step)``: Hydra's range, ``stop`` excluded (integers stay integers);
- ``interval(low, high)``: a float in ``[low, high]``;
- ``tag(log, ...)``: sampled on a log scale; ``tag(int, interval(...))``: an integer.

Anything else (``seed=3``) is a fixed override given to every trial."""

import math
import re
from dataclasses import dataclass, field

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep

from framework.core.errors import ConfigError

KNOWN_TAGS = {"log", "int"}
PRIMITIVES = (bool, int, float, str)
#: A string Hydra reads back as the same string without quotes.
PLAIN = re.compile(r"[A-Za-z_/.\-][\w/.\-]*")


@dataclass
class SearchSpace:
    """Distributions by override key (``+key`` kept as typed) and the fixed overrides."""

    distributions: dict = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)
    #: For each categorical key, the override text of each choice (a list's choice is its text).
    choice_texts: dict[str, dict] = field(default_factory=dict)

    def grid(self) -> dict[str, list]:
        """Every value of each parameter, for a grid: only choices and ranges have them."""
        from optuna.distributions import CategoricalDistribution

        values = {}
        for key, distribution in self.distributions.items():
            if isinstance(distribution, CategoricalDistribution):
                values[key] = list(distribution.choices)
            elif distribution.step is not None and not distribution.log:
                count = round((distribution.high - distribution.low) / distribution.step) + 1
                values[key] = [_tidy(distribution.low + i * distribution.step) for i in range(count)]
            else:
                raise ConfigError(
                    f"hydra.sweeper.params.{key}: a grid needs a list of values, not an interval; "
                    f"use choice(...) or range(...), or another sampler (hydra/sweeper/sampler=tpe)"
                )
        return values

    def examples(self) -> list[dict]:
        """Values of every parameter that, together, use each choice once: the overrides they
        make can be checked before the study is asked for any trial."""
        from optuna.distributions import CategoricalDistribution

        def value(distribution, index):
            if isinstance(distribution, CategoricalDistribution):
                return distribution.choices[min(index, len(distribution.choices) - 1)]
            return distribution.low

        categorical = [d for d in self.distributions.values() if isinstance(d, CategoricalDistribution)]
        count = max((len(d.choices) for d in categorical), default=1)
        return [{key: value(d, index) for key, d in self.distributions.items()} for index in range(count)]

    def overrides(self, params: dict) -> list[str]:
        """The overrides of one trial: its sampled values, then the fixed ones."""
        texts = self.choice_texts
        chosen = [f"{k}={texts[k][v] if k in texts else as_override(v)}" for k, v in params.items()]
        return chosen + list(self.fixed)


def search_space(arguments: list[str], params: dict | None) -> SearchSpace:
    """The space from the command line's overrides (``arguments``) and ``hydra.sweeper.params``
    (a mapping of key to override value); the command line wins for a key given in both."""
    parser = OverridesParser.create()
    configured = [f"{key}={value}" for key, value in (params or {}).items()]
    by_key: dict[str, Override] = {}
    for override in parser.parse_overrides(configured) + parser.parse_overrides(list(arguments)):
        by_key[override.get_key_element()] = override
    space = SearchSpace()
    for key, override in by_key.items():
        if override.is_sweep_override():
            space.distributions[key] = distribution(key, override)
            if isinstance(override.value(), ChoiceSweep):
                space.choice_texts[key] = {_choice(v): as_override(v) for v in override.value().list}
        else:
            space.fixed.append(f"{key}={override.get_value_element_as_str()}")
    return space


def describe(distribution) -> str:
    """A distribution in the sweep syntax (a range of integers as ``tag(int, interval(...))``)."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return "choice(" + ", ".join(c if isinstance(c, str) else as_override(c) for c in distribution.choices) + ")"
    low, high, step = distribution.low, distribution.high, distribution.step
    is_int = isinstance(distribution, IntDistribution)
    if (is_int and step != 1) or (not is_int and step is not None):
        return f"range({low}, {high + step if is_int else _tidy(high + step)}, {step})"
    tags = (["int"] if is_int else []) + (["log"] if distribution.log else [])
    text = f"interval({low}, {high})"
    return f"tag({', '.join(tags)}, {text})" if tags else text


def distribution(key: str, override: Override):
    """The Optuna distribution of one sweep override."""
    from optuna.distributions import CategoricalDistribution

    value = override.value()
    unknown = set(value.tags) - KNOWN_TAGS
    if unknown:
        raise ConfigError(
            f"{key}: unknown tag {sorted(unknown)[0]!r} in {_typed(override)}; the tags a study knows are "
            "log and int, e.g. tag(log, interval(1e-4, 1e-1))"
        )
    if getattr(value, "shuffle", False):
        raise ConfigError(f"{key}: shuffle() has no meaning in a study (the sampler picks); remove it")
    if isinstance(value, ChoiceSweep):
        return CategoricalDistribution([_choice(v) for v in value.list])
    if isinstance(value, RangeSweep):
        return _range(key, override, value)
    if isinstance(value, IntervalSweep):
        return _interval(key, value, _typed(override))
    raise ConfigError(f"{key}: {_typed(override)} is not a sweep a study can sample; use choice, range or interval")


def _range(key: str, override: Override, value: RangeSweep):
    from optuna.distributions import FloatDistribution, IntDistribution

    values = list(override.sweep_iterator())
    if not values:
        raise ConfigError(f"{key}: {_typed(override)} has no values (its stop is not past its start)")
    log = "log" in value.tags
    if all(isinstance(v, int) for v in (value.start, value.stop, value.step)):
        if log and value.step != 1:
            raise ConfigError(f"{key}: a log-scale range needs step 1; drop the step or the log tag")
        return IntDistribution(int(values[0]), int(values[-1]), log=log, step=int(value.step))
    if log:
        raise ConfigError(f"{key}: a log-scale range of floats is not possible; use tag(log, interval(...))")
    return FloatDistribution(_tidy(values[0]), _tidy(values[-1]), step=_tidy(value.step))


def _interval(key: str, value: IntervalSweep, typed: str):
    from optuna.distributions import FloatDistribution, IntDistribution

    low, high, log = value.start, value.end, "log" in value.tags
    if not low < high:
        raise ConfigError(f"{key}: {typed} is empty; give the lower bound first")
    if log and low <= 0:
        raise ConfigError(f"{key}: a log-scale interval needs a positive lower bound, not {low}")
    if "int" in value.tags:
        if low != math.floor(low) or high != math.floor(high):
            raise ConfigError(f"{key}: {typed} needs whole-number bounds")
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(float(low), float(high), log=log)


def _tidy(number: float) -> float:
    """``0.30000000000000004`` as ``0.3``: range arithmetic without its rounding noise."""
    return float(f"{number:.12g}")


def _choice(value):
    """A categorical choice: the value itself, or the override text of a list or a mapping."""
    return value if isinstance(value, PRIMITIVES) else as_override(value)


def as_override(value) -> str:
    """``value`` in Hydra's override syntax (strings quoted where they must be)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(as_override(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{as_override(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if PLAIN.fullmatch(text) and text.lower() not in ("true", "false", "null", "nan", "inf"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _typed(override: Override) -> str:
    """The value as the user typed it."""
    return override.input_line.partition("=")[2] if override.input_line else str(override.value())
