"""gradcheck: it passes for correct backward passes, and it catches a wrong one."""

import numpy as np
import pytest

from chainrule.nn.gradcheck import gradcheck, gradcheck_layer, numerical_gradient, relative_error
from chainrule.nn.layers import Dense, Dropout, ImprovedSigmoid, LeakyReLU, Sigmoid, Softmax, Tanh
from chainrule.nn.model import Sequential


@pytest.mark.parametrize("batch", [1, 5])
def test_whole_model_with_every_kind_of_layer_passes(rng, batch):
    model = Sequential(
        [Dense(6), Tanh(), Dense(5), LeakyReLU(0.1), Dropout(0.3), Dense(4), ImprovedSigmoid(),
         Dense(3), Softmax()],
        "categorical_crossentropy", input_shape=(4,), l2=0.05,
    )  # fmt: skip
    check = gradcheck(model, rng.normal(size=(batch, 4)), rng.integers(0, 3, batch), training=True)
    assert check.passed, str(check)
    assert set(check.errors) == {*model.params.keys(), "input"}
    assert model.params.data.dtype == np.float32  # the check ran on a float64 copy


def test_a_wrong_backward_is_caught(rng):
    model = Sequential(
        [Dense(3), Sigmoid(), Dense(2), Softmax()], "ce", input_shape=(4,), dtype="float64"
    )
    sigmoid = model.layers[1]
    sigmoid.backward = lambda dout: dout * sigmoid._cache  # forgot the (1 - a) factor
    check = gradcheck(model, rng.normal(size=(3, 4)), [0, 1, 1])
    assert not check.passed
    assert check.errors["dense_1.W"] > 1e-3
    assert check.errors["dense_2.W"] < 1e-6  # the layers after the bug are still right
    assert "FAILED" in str(check)


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 0.5])
    numeric = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(numeric, 3 * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])  # restored after perturbing


def test_relative_error_conventions():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), np.ones(3)) == 0.0
    assert relative_error(np.ones(1), -np.ones(1)) == pytest.approx(1.0)


def test_a_dense_layer_with_its_own_activation_is_checked_with_it():
    x = np.random.default_rng(3).normal(size=(4, 5))
    result = gradcheck_layer(Dense(3, activation="tanh"), x)
    assert result.passed and set(result.errors) == {"dense_1.W", "dense_1.b", "input"}
