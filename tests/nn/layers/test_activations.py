"""Activations: values, derivatives (from finite differences), stability, and the registry."""

import warnings

import numpy as np
import pytest

from chainrule.nn.gradcheck import gradcheck_layer
from chainrule.nn.layers import (
    ACTIVATIONS,
    Identity,
    ImprovedSigmoid,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    get_activation,
)
from chainrule.nn.layers.activations import log_softmax, sigmoid, softmax

ALL = [Identity, ReLU, lambda: LeakyReLU(0.1), Sigmoid, Tanh, ImprovedSigmoid, Softmax]
IDS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "improved_sigmoid", "softmax"]


@pytest.mark.parametrize("make", ALL, ids=IDS)
@pytest.mark.parametrize("shape", [(1, 5), (4, 3), (7, 10)])
def test_backward_matches_central_differences(rng, make, shape):
    x = rng.normal(size=shape)
    x[np.abs(x) < 1e-3] += 0.01  # keep away from ReLU's kink, where no derivative exists
    check = gradcheck_layer(make(), x)
    assert check.passed, str(check)


def test_values_at_known_points():
    z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(ReLU().forward(z), [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(LeakyReLU(0.1).forward(z), [[-0.2, 0.0, 3.0]])
    np.testing.assert_allclose(Sigmoid().forward(z)[0, 1], 0.5)
    np.testing.assert_allclose(Tanh().forward(z), np.tanh(z))
    # LeCun chose A and B so that f(±1) = ±1 (approximately, to the 4 digits of 1.7159).
    np.testing.assert_allclose(
        ImprovedSigmoid().forward(np.array([[1.0, -1.0]])), [[1, -1]], atol=1e-4
    )
    np.testing.assert_allclose(Softmax().forward(z).sum(), 1.0)


def test_derivatives_are_taken_from_the_output():
    """σ' = a(1-a), tanh' = 1-a², so backward needs only the cached output."""
    z = np.array([[0.3, -1.2]])
    layer = Sigmoid()
    a = layer.forward(z)
    np.testing.assert_allclose(layer.backward(np.ones_like(z)), a * (1 - a))
    layer = Tanh()
    a = layer.forward(z)
    np.testing.assert_allclose(layer.backward(np.ones_like(z)), 1 - a**2)


def test_relu_derivative_at_zero_is_zero():
    layer = ReLU()
    layer.forward(np.array([[0.0]]))
    assert layer.backward(np.array([[1.0]]))[0, 0] == 0.0


def test_softmax_backward_is_the_jacobian_vector_product(rng):
    z = rng.normal(size=(1, 4))
    dout = rng.normal(size=(1, 4))
    layer = Softmax()
    a = layer.forward(z)[0]
    jacobian = np.diag(a) - np.outer(a, a)
    np.testing.assert_allclose(layer.backward(dout)[0], jacobian.T @ dout[0])


def test_large_inputs_stay_finite_without_warnings():
    z = np.array([[1e4, -1e4, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for function in (sigmoid, softmax, log_softmax, np.tanh):
            assert np.all(np.isfinite(function(z)))
    np.testing.assert_array_equal(sigmoid(z), [[1.0, 0.0, 0.5]])


def test_float32_stays_float32():
    z = np.ones((2, 3), np.float32)
    for name in ACTIVATIONS.names():
        assert get_activation(name).forward(z).dtype == np.float32, name


def test_registry_resolves_aliases_and_arguments():
    assert isinstance(get_activation("Leaky-ReLU"), LeakyReLU)
    assert get_activation({"name": "leaky_relu", "slope": 0.2}).slope == 0.2
    assert isinstance(get_activation("lecun_tanh"), ImprovedSigmoid)


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'relu6'.*relu, leaky_relu, sigmoid"):
        get_activation("relu6")


def test_bad_leaky_slope_is_rejected():
    with pytest.raises(ValueError, match="slope"):
        LeakyReLU(float("nan"))


def test_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match="before"):
        Sigmoid().backward(np.ones((1, 2)))


# -- each activation's math description agrees with its code --------------------------------


@pytest.mark.parametrize(
    "layer",
    [Identity(), ReLU(), LeakyReLU(0.2), Sigmoid(), Tanh(), ImprovedSigmoid()],
    ids=lambda layer: layer.type_name,
)
def test_an_elementwise_description_computes_what_forward_and_backward_compute(layer):
    z = np.random.default_rng(3).normal(size=(4, 5)) * 3
    a = layer.forward(z, training=True)
    math = layer.math
    assert math.elementwise
    np.testing.assert_allclose(math.function(z), a, rtol=1e-12)
    derivative = np.broadcast_to(math.derivative(z, a), z.shape)  # the identity's is the scalar 1
    np.testing.assert_allclose(derivative, layer.backward(np.ones_like(z)), rtol=1e-12)


def test_softmaxs_description_gives_its_entries_and_its_jacobian():
    layer = Softmax()
    z = np.array([[0.3, -1.2, 2.0, 0.1]])
    a = layer.forward(z, training=True)[0]
    rowwise = layer.math.rowwise
    assert not layer.math.elementwise and layer.math.derivative is None
    np.testing.assert_allclose([rowwise.entry(z[0], j) for j in range(4)], a, rtol=1e-12)
    jacobian = [[rowwise.jacobian(a[i], a[j], i == j) for j in range(4)] for i in range(4)]
    rows_from_backward = [layer.backward(np.eye(4)[i][None, :])[0] for i in range(4)]
    np.testing.assert_allclose(jacobian, rows_from_backward, rtol=1e-12, atol=1e-15)


def test_every_registered_activation_describes_its_math():
    for name in ACTIVATIONS.names():
        math = get_activation(name).math
        assert math is not None, name
        assert math.batch.format(z="Z_1")  # a template that fills, for derive
        assert (math.derivative is None) == (math.rowwise is not None), name


def test_leaky_relus_description_follows_its_slope():
    math = LeakyReLU(2.5).math
    assert math.batch.format(z="Z") == r"\min(Z, 2.5 Z)"  # the larger of the two is z·slope
    assert "0.1" in LeakyReLU(0.1).math.derivative_rule
    assert LeakyReLU(1e-5).math.batch_derivative.format(z="Z", a="A") == (
        r"([Z > 0] + 10^{-5}\,[Z \le 0])"
    )
