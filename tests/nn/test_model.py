"""Sequential: building, forward/backward with fusion, prediction, summary, bad input."""

import itertools
import re

import numpy as np
import pytest

from chainrule.nn.layers import Dense, Dropout, Flatten, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from chainrule.nn.model import INFERENCE_VALUES, Sequential, load_model, save_model
from chainrule.nn.model_file import write_model_file


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


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("target", ["labels", "one-hot"])
def test_loss_and_backward_equals_compute_loss_then_backward_to_the_bit(rng, fuse, target):
    x, y = rng.normal(size=(6, 4)).astype(np.float32), np.array([0, 1, 2, 1, 0, 2])
    if target == "one-hot":
        y = np.eye(3, dtype=np.float32)[y]
    separate, together = (mlp([4, 5, 3], l2=0.1, fuse_loss=fuse) for _ in range(2))
    output = separate.forward(x, training=True)
    expected = separate.compute_loss(output, y)
    separate.backward(y)
    together.forward(x, training=True)
    loss = together.loss_and_backward(y)
    assert (loss.data, loss.l2) == (expected.data, expected.l2)
    np.testing.assert_array_equal(together.params.grad_data, separate.params.grad_data)


def test_loss_and_backward_checks_labels_and_needs_a_forward(rng):
    model = mlp([4, 3])
    with pytest.raises(RuntimeError, match=r"loss_and_backward\(y\) needs a forward"):
        model.loss_and_backward(np.array([0, 1]))
    model.forward(rng.normal(size=(2, 4)), training=True)
    with pytest.raises(ValueError, match="label 3 is outside the class range 0..2"):
        model.loss_and_backward(np.array([0, 3]))


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
    unbuilt = Sequential([Dense(2)])  # fine until something needs the shape
    assert not unbuilt.built
    assert repr(unbuilt) == "Sequential(1 layers, not built yet)"
    for needs_the_shape in (lambda: unbuilt.params, unbuilt.summary, unbuilt.count_params):
        with pytest.raises(ValueError, match=r"input_shape=\(784,\).*model.build"):
            needs_the_shape()
    with pytest.raises(ValueError, match="no layers yet.*model.add"):
        Sequential(input_shape=(3,)).build()


@pytest.mark.parametrize("bad", [0, (0,), (3, -1), (), "784", 7.5, (True,), (None,)])
def test_input_shape_must_be_positive_integers(bad):
    with pytest.raises(ValueError, match="input_shape must be positive integers"):
        Sequential([Dense(2)], input_shape=bad)


def test_a_layer_is_added_once_and_must_be_a_layer():
    dense = Dense(2)
    model = Sequential([dense])
    with pytest.raises(ValueError, match="already in this model"):
        model.add(dense)
    with pytest.raises(TypeError, match="layer 2 is not a Layer, got 'relu'"):
        model.add("relu")


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


# -- built in steps: add, lazy build, Dense(activation=...) -----------------------------------
def test_dense_activation_is_a_dense_layer_then_its_activation_layer():
    model = Sequential(input_shape=(4,))
    model.add(Dense(3, activation="relu"))
    model.add(Dense(2, activation="softmax"))
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "ReLU", "Dense", "Softmax"]
    text = model.summary()
    assert "dense_1 (Dense)" in text and "relu_1 (ReLU)" in text
    note = " ".join(text.split())  # the note is wrapped to the table's width
    assert "followed by its activation layer: dense_1 → relu_1, dense_2 → softmax_1" in note
    assert "followed by its activation" not in mlp([4, 3, 2]).summary()
    spelled_out = Sequential([Dense(3), ReLU(), Dense(2), Softmax()], input_shape=(4,))
    assert model.get_config() == spelled_out.get_config()
    np.testing.assert_array_equal(model.params.data, spelled_out.params.data)


def test_the_input_shape_comes_from_the_first_data_and_gives_the_same_weights(rng):
    eager = mlp([4, 3, 2])
    lazy = Sequential(loss="categorical_crossentropy")
    for layer in (Dense(3), Sigmoid(), Dense(2), Softmax()):
        lazy.add(layer)
    assert not lazy.built and lazy.input_shape is None
    x = rng.normal(size=(5, 4))
    np.testing.assert_array_equal(lazy.predict_proba(x), eager.predict_proba(x))
    assert lazy.built and lazy.input_shape == (4,) and lazy.output_shape == (2,)
    np.testing.assert_array_equal(lazy.params.data, eager.params.data)
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 4\), got \(5, 6\)"):
        lazy.predict_proba(rng.normal(size=(5, 6)))


def test_keras_spellings_of_the_input_shape(rng):
    reference = mlp([4, 3, 2])
    on_the_layer = Sequential(
        [Dense(3, input_shape=(4,)), Sigmoid(), Dense(2), Softmax()], "categorical_crossentropy"
    )
    assert on_the_layer.built  # the shape is known, so it builds at once
    built_later = Sequential([Dense(3), Sigmoid(), Dense(2), Softmax()], "ce")
    built_later.build((None, 4))  # Keras includes the batch dimension as None
    for model in (on_the_layer, built_later):
        np.testing.assert_array_equal(model.params.data, reference.params.data)
    with pytest.raises(ValueError, match=r"takes input of shape \(4,\), got input_shape=\(5,\)"):
        built_later.build((5,))


def test_layers_added_after_a_build_keep_the_earlier_weights(rng):
    at_once = mlp([4, 3, 2])
    in_steps = Sequential([Dense(3), Sigmoid()], "categorical_crossentropy", input_shape=(4,))
    first_weights = in_steps.params["dense_1.W"].copy()
    in_steps.params["dense_1.b"] = np.full(3, 0.5)  # a change that must survive the rebuild
    in_steps.add(Dense(2))
    in_steps.add(Softmax())
    assert not in_steps.built
    assert in_steps.count_params() == at_once.count_params()
    np.testing.assert_array_equal(in_steps.params["dense_1.W"], first_weights)
    np.testing.assert_array_equal(in_steps.params["dense_1.b"], np.full(3, 0.5))
    np.testing.assert_array_equal(in_steps.params["dense_2.W"], at_once.params["dense_2.W"])
    assert in_steps._fused_loss is not None  # the new last layer fuses with the loss


def test_flat_layers_on_image_input_say_flatten():
    model = Sequential([Dense(8, activation="relu"), Dense(10, activation="softmax")])
    with pytest.raises(ValueError, match=r"\(28, 28\); put a Flatten layer before it \(layer 1"):
        model.predict_proba(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="first batch it sees.*x\\[None\\]"):
        model.predict_proba(np.zeros(784))
    with_flatten = Sequential([Flatten(), Dense(10, activation="softmax")])
    assert with_flatten.predict_proba(np.zeros((2, 28, 28))).shape == (2, 10)


def test_set_loss_decides_the_fusion_again(rng):
    model = mlp([4, 3, 2])
    model.set_loss("mse")
    assert model._fused_loss is None and model.loss.type_name == "mse"
    model.set_loss("categorical_crossentropy")
    assert model._fused_loss is not None


# -- model files: the architecture <-> plain data, checked against the stored tensors ------
def file_model(dtype="float32"):
    layers = [
        Dense(8, kernel_initializer="he_normal"),
        LeakyReLU(0.05),
        Dropout(0.2),
        Dense(3, use_bias=False),
        Softmax(),
    ]
    return Sequential(layers, "categorical_crossentropy", input_shape=(5,), l2=1e-3, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_and_load_round_trip_is_bit_exact(tmp_path, rng, dtype):
    model = file_model(dtype)
    model.params.data[...] = rng.normal(size=model.params.size)
    path = model.save(tmp_path / "model.safetensors")
    loaded = Sequential.load(path)
    assert loaded.params.data.dtype == np.dtype(dtype)
    assert loaded.params.data.tobytes() == model.params.data.tobytes()
    assert loaded.get_config() == model.get_config()
    x = rng.normal(size=(4, 5))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_extras_travel_with_the_model(tmp_path):
    extra = {"class_names": ["cat", "dog", "eel"], "standardize": {"mean": 0.13, "std": 0.31}}
    save_model(file_model(), tmp_path / "m.safetensors", extra)
    model, loaded_extra = load_model(tmp_path / "m.safetensors")
    assert loaded_extra == extra
    assert model.get_config() == file_model().get_config()


def test_tensors_that_do_not_fit_the_architecture_are_refused(tmp_path):
    model = file_model()
    path = tmp_path / "m.safetensors"
    wrong_shape = {**model.params.to_dict(), "dense_1.W": np.zeros((5, 9), np.float32)}
    write_model_file(path, wrong_shape, model.get_config())
    with pytest.raises(ValueError, match=r"'dense_1.W' is float32\[5, 9\].*float32\[5, 8\]"):
        load_model(path)
    missing = {k: v for k, v in model.params.to_dict().items() if k != "dense_2.W"}
    write_model_file(path, {**missing, "extra.W": np.zeros(2, np.float32)}, model.get_config())
    with pytest.raises(ValueError, match="missing: dense_2.W; unexpected: extra.W"):
        Sequential.load(path)


def test_an_invalid_stored_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "m.safetensors"
    write_model_file(path, {}, {"layers": []})
    with pytest.raises(ValueError, match="stored architecture is invalid.*input_shape"):
        load_model(path)


def test_a_notebook_shows_the_summary_as_a_table(html_text):
    model = Sequential([Dense(64, activation="relu"), Dense(10, activation="softmax")],
                       "categorical_crossentropy", input_shape=(784,))  # fmt: skip
    page = model._repr_html_()
    text = html_text(page)
    assert text.startswith("Sequential, input shape (None, 784) Layer (type) Output shape Param #")
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"num\">([\d,]+)</td></tr>", page
    )
    assert rows == [(name, shape, f"{count:,}") for name, shape, count in model.summary_rows()]
    assert [int(count.replace(",", "")) for *_, count in rows] == [
        784 * 64 + 64,
        0,
        64 * 10 + 10,
        0,
    ]
    assert f"Total params: {model.count_params():,}" in text and "dense_1 → relu_1" in text
    unbuilt = Sequential([Dense(3)])
    assert unbuilt._repr_html_() is None  # showing a model never builds it: the plain repr
    assert repr(unbuilt) == "Sequential(1 layers, not built yet)" and not unbuilt.built
