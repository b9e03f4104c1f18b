"""Each component through the conformance kit, plus the numbers it must compute."""

import numpy as np
import pytest
from framework_contrib import Adagrad, CsvLogger, LayerNorm, MacroF1

from framework import InvalidValueError, Parameter
from framework.testing import check_callback, check_layer, check_metric, check_optimizer


def test_layer_norm():
    check_layer(LayerNorm(eps=1e-3), input_shape=(5,))


def test_layer_norm_normalizes_each_sample():
    from framework import Sequential

    model = Sequential([LayerNorm()], input_shape=(4,), rng=np.random.default_rng(0), dtype="float64")
    y = model.forward(np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 10.0, 10.0, 11.0]]))
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=1), 1, rtol=1e-3)


def test_adagrad():
    check_optimizer(Adagrad, lr=0.5)


def test_adagrad_accumulator_starts_at_its_initial_value():
    w = Parameter("w", (2,), None, np.array([1.0, 1.0], np.float32), np.array([0.3, -0.4], np.float32))
    optimizer = Adagrad(lr=0.1, initial_accumulator_value=0.07, eps=0.0)
    optimizer.step([w])
    # s = 0.07 + g^2 = [0.16, 0.23]; w = 1 - 0.1 * g / sqrt(s) = [1 - 0.075, 1 + 0.0834057]
    np.testing.assert_allclose(optimizer.state["w"]["sum"], [0.16, 0.23], rtol=1e-6)
    np.testing.assert_allclose(w.value, [0.925, 1 + 0.04 / np.sqrt(0.23)], rtol=1e-6)


def test_adagrad_refuses_a_negative_initial_value():
    with pytest.raises(InvalidValueError, match="initial_accumulator_value"):
        Adagrad(initial_accumulator_value=-1)


def test_macro_f1():
    check_metric(MacroF1(), classes=4)


def test_macro_f1_by_hand():
    metric = MacroF1()
    metric.update(np.eye(3)[[0, 0, 1, 2]], np.array([0, 1, 1, 2]))
    # class 0: TP 1, FP 1 -> 2/3; class 1: TP 1, FN 1 -> 2/3; class 2: 1
    assert metric.result() == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)


def test_csv_logger_writes_into_the_runs_directory():
    logger = CsvLogger()
    check_callback(logger)  # a two-epoch fit in a temporary run directory
    assert logger.path.name == "epochs.csv" and not logger.path.exists()  # the run's directory is gone again


def test_csv_logger_refuses_a_path():
    with pytest.raises(InvalidValueError, match="filename must be a plain file name"):
        CsvLogger(filename="../epochs.csv")
