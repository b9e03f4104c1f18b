"""The search space of a study, read from the sweep syntax users know from hydra-optuna-sweeper."""

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from framework.core.errors import ConfigError
from framework.tuning.space import search_space
from framework.tuning.study import direction


def test_each_sweep_form_becomes_its_distribution():
    space = search_space(
        ["lr=tag(log, interval(1e-4, 1e-1))", "layers=range(1,8,2)", "opt=choice(sgd,adam)", "seed=3",
         "units=tag(int, interval(8, 64))", "drop=range(0.1,0.5,0.1)"],
        None,
    )  # fmt: skip
    assert space.distributions == {
        "lr": FloatDistribution(1e-4, 1e-1, log=True),
        "layers": IntDistribution(1, 7, step=2),
        "opt": CategoricalDistribution(["sgd", "adam"]),
        "units": IntDistribution(8, 64),
        "drop": FloatDistribution(0.1, 0.4, step=0.1),
    }
    assert space.fixed == ["seed=3"]


def test_the_command_line_wins_over_params_for_the_same_key():
    space = search_space(["lr=interval(0.1, 0.2)"], {"lr": "interval(0.3, 0.4)", "momentum": "choice(0.0, 0.9)"})
    assert space.distributions["lr"] == FloatDistribution(0.1, 0.2)
    assert space.distributions["momentum"] == CategoricalDistribution([0.0, 0.9])


def test_sampled_values_read_back_as_the_same_values():
    space = search_space(["+model.hidden=[64],[128,64]", "name=choice('a b', 'x=y', '1', c)", "flag=true,false"], None)
    parser = OverridesParser.create()
    for hidden in space.distributions["+model.hidden"].choices:
        for name in space.distributions["name"].choices:
            overrides = space.overrides({"+model.hidden": hidden, "name": name, "flag": False})
            parsed = {o.key_or_group: o.value() for o in parser.parse_overrides(overrides)}
            assert str(parsed["model.hidden"]).replace(" ", "") == hidden
            assert parsed["name"] == name and parsed["flag"] is False


def test_a_grid_lists_choices_and_ranges():
    space = search_space(["a=choice(1,2)", "b=range(0.1,0.35,0.1)"], None)
    assert space.grid() == {"a": [1, 2], "b": [0.1, 0.2, 0.3]}


@pytest.mark.parametrize(
    "override, expected",
    [
        ("lr=interval(0.1, 0.01)", "lr: interval(0.1, 0.01) is empty; give the lower bound first"),
        ("lr=tag(log, interval(0, 1))", "lr: a log-scale interval needs a positive lower bound, not 0"),
        ("lr=tag(loog, interval(0.1, 1))", "lr: unknown tag 'loog'"),
        ("n=tag(int, interval(1.5, 4))", "n: tag(int, interval(1.5, 4)) needs whole-number bounds"),
        ("n=range(5,1)", "n: range(5,1) has no values"),
        ("n=shuffle(1,2)", "n: shuffle() has no meaning in a study"),
    ],
)
def test_a_space_that_cannot_be_sampled_is_refused_in_one_line(override, expected):
    with pytest.raises(ConfigError) as error:
        search_space([override], None)
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)


def test_a_grid_refuses_an_interval_naming_the_key():
    with pytest.raises(ConfigError, match=r"hydra.sweeper.params.lr: a grid needs a list of values"):
        search_space(["lr=interval(0.1, 0.2)"], None).grid()


def test_the_direction_follows_the_monitored_value_unless_given():
    assert direction(None, "val_accuracy") == "maximize"
    assert direction(None, "val_loss") == "minimize"
    assert direction("maximize", "val_loss") == "maximize"
    with pytest.raises(ConfigError, match=r"hydra.sweeper.direction: .up. is not a direction"):
        direction("up", "val_loss")
