"""Sequential: building, forward/backward with fusion, prediction, summary, bad input."""

import itertools

import numpy as np
import pytest

from chainrule.nn.layers import Dense, Dropout, ReLU, Sigmoid, Softmax, Tanh
from chainrule.nn.model import INFERENCE_VALUES, Sequential


def mlp(sizes, activation=Sigmoid, **kwargs):
    layers = []
    for width in sizes[1:-1]:
        layers += [Dense(width), activation()]
    layers += [Dense(sizes[-1]), Softmax()]
    return Sequential(layers, "categorical_crossentropy", input_shape=(sizes[0],), **kwargs)


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [([784, 64, 10], 50_890), ([784, 64, 64, 10], 55_050), ([784, 128, 64, 10], 109_386)],
)
def test_parameter_counts_match_the_formula(sizes, expected):
    formula = sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(sizes))
    assert formula == expected
    model = mlp(sizes)
    assert model.count_params() == expected
    assert f"Total params: {expected:,}" in model.summary()


def test_summary_lists_layers_shapes_and_counts():
    text = mlp([784, 64, 10]).summary()
    assert "dense_1 (Dense)" in text
    assert "(None, 64)" in text
    assert "50,240" in text
    assert "sigmoid_1 (Sigmoid)" in text


def test_layers_are_named_keras_style_and_names_are_unique():
    model = mlp([4, 3, 3, 2])
    assert [layer.name for layer in model.layers] == [
        "dense_1", "sigmoid_1", "dense_2", "sigmoid_2", "dense_3", "softmax_1"
    ]  # fmt: skip
    assert list(model.params) == [
        "dense_1.W", "dense_2.W", "dense_3.W", "dense_1.b", "dense_2.b", "dense_3.b"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unique.*same"):
        Sequential([Dense(2, name="same"), Dense(2, name="same")], input_shape=(2,))


def test_softmax_and_cross_entropy_are_fused(rng):
    """The backward starts at the logits with dL/dz = (p - y)/m; the result is the same."""
    x, y = rng.normal(size=(5, 4)), np.array([0, 1, 2, 1, 0])
    fused = mlp([4, 3, 3], dtype="float64")
    unfused = mlp([4, 3, 3], dtype="float64", fuse_loss=False)
    assert fused._fused_loss is not None
    assert unfused._fused_loss is None
    np.testing.assert_array_equal(unfused.params.data, fused.params.data)  # same seed
    fused.forward(x, training=True)
    fused.backward(y)
    fused_grads = fused.params.grad_data.copy()
    out = unfused.forward(x, training=True)
    unfused.backward(y)
    np.testing.assert_allclose(unfused.params.grad_data, fused_grads, rtol=1e-9)
    assert fused.compute_loss(out, y).data == pytest.approx(unfused.compute_loss(out, y).data)


def test_backward_overwrites_instead_of_accumulating(rng):
    model = mlp([4, 3, 2], dtype="float64")
    x, y = rng.normal(size=(3, 4)), np.array([0, 1, 1])
    model.forward(x, training=True)
    model.backward(y)
    first = model.params.grad_data.copy()
    model.forward(x, training=True)
    model.backward(y)
    np.testing.assert_array_equal(model.params.grad_data, first)


def test_l2_is_its_own_term_and_skips_biases_unless_asked(rng):
    model = mlp([4, 3, 2], l2=0.5, dtype="float64")
    model.params["dense_1.b"] = np.ones(3)
    weights = model.params["dense_1.W"], model.params["dense_2.W"]
    expected = 0.25 * sum(float(np.sum(w**2)) for w in weights)
    loss = model.loss_value(rng.normal(size=(2, 4)), [0, 1])
    assert loss.l2 == pytest.approx(expected)
    assert loss.total == pytest.approx(loss.data + loss.l2)
    with_biases = mlp([4, 3, 2], l2=0.5, l2_biases=True, dtype="float64")
    with_biases.params["dense_1.b"] = np.ones(3)
    assert with_biases.params.n_regularized == with_biases.params.size
    assert with_biases.loss_value(np.zeros((1, 4)), [0]).l2 > 0.25 * 3 - 1e-12


def test_predict_and_predict_proba(rng):
    model = mlp([4, 8, 3])
    x = rng.normal(size=(2500, 4))
    proba = model.predict_proba(x, batch_size=1000)
    assert proba.shape == (2500, 3)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x), proba.argmax(axis=1))


def test_binary_model_predicts_zero_or_one(rng):
    model = Sequential(
        [Dense(4), ReLU(), Dense(1), Sigmoid()], "binary_crossentropy", input_shape=(3,)
    )
    predictions = model.predict(rng.normal(size=(10, 3)))
    assert set(np.unique(predictions)) <= {0, 1}
    assert predictions.shape == (10,)


def test_float64_on_request_and_astype_copies(rng):
    model = mlp([4, 3, 2])
    assert model.params.data.dtype == np.float32
    wide = model.astype("float64")
    assert wide.params.data.dtype == np.float64
    np.testing.assert_array_equal(wide.params.data, model.params.data.astype(np.float64))
    x = rng.normal(size=(3, 4))
    np.testing.assert_allclose(wide.predict_proba(x), model.predict_proba(x), rtol=1e-5)
    with pytest.raises(ValueError, match="float32 or float64"):
        mlp([4, 2], dtype="float16")


def test_dropout_model_is_deterministic_at_inference(rng):
    model = Sequential(
        [Dense(8), Tanh(), Dropout(0.5), Dense(2), Softmax()], "ce", input_shape=(4,)
    )
    x = rng.normal(size=(3, 4))
    np.testing.assert_array_equal(model.predict_proba(x), model.predict_proba(x))


# -- bad input --------------------------------------------------------------------------------
def test_785_features_into_a_784_model():
    model = mlp([784, 16, 10])
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 784\), got \(2, 785\)"):
        model.predict(np.zeros((2, 785)))


def test_a_single_example_without_batch_dimension_gets_a_hint():
    with pytest.raises(ValueError, match=r"x\[None\]"):
        mlp([4, 2]).predict(np.zeros(4))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_inputs_are_rejected(bad):
    x = np.zeros((3, 4))
    x[1, 2] = bad
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        mlp([4, 2]).predict(x)


def test_labels_outside_the_class_range_are_rejected(rng):
    model = mlp([4, 3])
    model.forward(rng.normal(size=(2, 4)), training=True)
    with pytest.raises(ValueError, match="label 3 is outside the class range 0..2"):
        model.backward(np.array([0, 3]))
    with pytest.raises(ValueError, match="label -1"):
        model.loss_value(rng.normal(size=(2, 4)), [-1, 0])


def test_unknown_loss_and_missing_input_shape():
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*mse"):
        Sequential([Dense(2)], "hinge", input_shape=(2,))
    with pytest.raises(ValueError, match="input_shape"):
        Sequential([Dense(2)])


def test_backward_without_loss_or_forward_says_what_is_missing():
    with pytest.raises(ValueError, match="no loss"):
        Sequential([Dense(2)], input_shape=(2,)).backward([0])
    with pytest.raises(RuntimeError, match="forward"):
        mlp([2, 2]).backward([0])


def test_activation_size_and_inference_chunks(rng):
    model = mlp([784, 128, 64, 10], activation=ReLU)
    assert model.activation_size() == 128 + 128 + 64 + 64 + 10 + 10
    assert model.inference_chunk(1024) == 1024  # small activations: the whole limit
    wide = mlp([784, 4096, 4096, 10], activation=ReLU)
    chunk = wide.inference_chunk(1024)
    assert 1 <= chunk < 1024 and chunk * wide.activation_size() <= INFERENCE_VALUES
    x = rng.normal(size=(300, 784))
    np.testing.assert_allclose(
        wide.predict_proba(x, batch_size=7), wide.predict_proba(x), rtol=1e-5, atol=1e-7
    )
