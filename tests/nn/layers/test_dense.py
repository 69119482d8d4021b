"""Dense: z = x @ W + b, its gradients, and the errors a wrong shape gives."""

import numpy as np
import pytest

from chainrule.nn.gradcheck import gradcheck_layer
from chainrule.nn.layers import Dense, LeakyReLU, ReLU, Tanh, layer_from_config
from chainrule.nn.model import Sequential


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_gradients_match_central_differences(rng, batch, use_bias):
    check = gradcheck_layer(Dense(3, use_bias=use_bias), rng.normal(size=(batch, 5)))
    assert check.passed, str(check)
    assert ("b" in str(check)) == use_bias


def test_forward_is_x_times_w_plus_b():
    model = Sequential([Dense(2)], input_shape=(3,), dtype="float64")
    model.params["dense_1.W"] = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    model.params["dense_1.b"] = [0.5, -0.5]
    out = model.forward(np.array([[1.0, 0.0, 2.0]]))
    # 1*1 + 0*3 + 2*5 + 0.5 = 11.5 and 1*2 + 0*4 + 2*6 - 0.5 = 13.5
    np.testing.assert_array_equal(out, [[11.5, 13.5]])


def test_backward_fills_the_models_gradient_buffer(rng):
    model = Sequential([Dense(2)], input_shape=(3,), dtype="float64")
    x = rng.normal(size=(4, 3))
    dout = rng.normal(size=(4, 2))
    model.forward(x, training=True)
    dx = model.backward_from(dout)
    np.testing.assert_allclose(model.grads["dense_1.W"], x.T @ dout)
    np.testing.assert_allclose(model.grads["dense_1.b"], dout.sum(axis=0))
    np.testing.assert_allclose(dx, dout @ model.params["dense_1.W"].T)
    layer = model.layers[0]
    assert np.shares_memory(layer.dW, model.params.grad_data)
    assert np.shares_memory(layer.W, model.params.data)


def test_parameter_count_is_fan_in_times_fan_out_plus_bias():
    assert Sequential([Dense(64)], input_shape=(784,)).count_params() == 784 * 64 + 64
    assert Sequential([Dense(64, use_bias=False)], input_shape=(784,)).count_params() == 784 * 64
    assert Sequential([Dense(64)], input_shape=(784,)).layers[0].multiply_adds() == 784 * 64


def test_wrong_feature_count_names_the_layer_and_both_sizes():
    model = Sequential([Dense(4, name="hidden_1")], input_shape=(3,))
    layer = model.layers[0]
    with pytest.raises(ValueError, match=r"hidden_1.*\(batch, 3\).*\(2, 5\)"):
        layer.forward(np.zeros((2, 5), np.float32))


def test_declared_input_dim_must_match_the_previous_layer():
    with pytest.raises(ValueError, match="input_dim=785.*784"):
        Sequential([Dense(4, input_dim=785)], input_shape=(784,))


@pytest.mark.parametrize("units", [0, -3, 2.5, "64", True])
def test_units_must_be_a_positive_integer(units):
    with pytest.raises(ValueError, match=f"^Dense: units must be an integer >= 1, got {units!r}$"):
        Dense(units)


def test_unknown_initializer_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown initializer 'gaussian'.*he_normal"):
        Dense(3, kernel_initializer="gaussian")


def test_dense_needs_flat_input():
    with pytest.raises(ValueError, match="Flatten"):
        Sequential([Dense(3)], input_shape=(1, 28, 28))


# -- Keras spellings: activation= and input_shape= --------------------------------------------
def test_activation_is_its_own_layer_and_stays_out_of_the_dense_config():
    dense = Dense(3, activation={"name": "leaky_relu", "slope": 0.1})
    assert isinstance(dense.activation, LeakyReLU) and dense.activation.slope == 0.1
    assert "activation" not in dense.get_config()  # the model stores the activation layer
    relu = ReLU()
    assert Dense(3, activation=relu).activation is relu
    assert Dense(3).activation is None
    model = Sequential([Dense(3, activation="tanh")], input_shape=(2,))
    rebuilt = Sequential.from_config(model.get_config())
    assert [type(layer) for layer in rebuilt.layers] == [Dense, Tanh]


def test_a_recipe_layer_may_name_its_activation():
    layer = layer_from_config({"type": "dense", "units": 4, "activation": "relu"})
    model = Sequential([layer], input_shape=(2,))
    assert [layer.name for layer in model.layers] == ["dense_1", "relu_1"]


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'rellu'.*relu, leaky_relu"):
        Dense(3, activation="rellu")


def test_input_shape_is_input_dim():
    assert Dense(3, input_shape=(784,)).input_dim == 784
    assert Dense(3, input_shape=784).input_dim == 784
    assert Dense(3, input_shape=(784,), input_dim=784).input_dim == 784


@pytest.mark.parametrize("shape", [(28, 28), (), "784", (7.5,)])
def test_input_shape_must_be_flat_features(shape):
    with pytest.raises(ValueError, match=r"input_shape must be \(features,\).*Flatten"):
        Dense(3, input_shape=shape)


def test_input_shape_and_input_dim_must_agree():
    with pytest.raises(ValueError, match=r"input_shape=\(784,\) and input_dim=785 disagree"):
        Dense(3, input_shape=(784,), input_dim=785)
    with pytest.raises(ValueError, match="Dense: input_dim must be an integer >= 1, got 0"):
        Dense(3, input_shape=(0,))


def test_repr_shows_the_activation_the_user_wrote():
    assert repr(Dense(10, activation="relu")).endswith(", activation='relu')")
    assert "activation" not in repr(Dense(10))
