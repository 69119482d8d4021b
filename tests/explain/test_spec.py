"""The worked-example spec: the shipped examples load, the engine model matches, and every
mistake a user can make gives one message naming the layer and the shapes."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from worked_reference import CONV_MAXPOOL, CONV_STRIDED, load_raw

from chainrule.explain.spec import ConvSpec, SpecError, load_spec, parse_spec, require_dense
from chainrule.nn.model import Sequential

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLASSIC = EXAMPLES / "relu-tanh-sigmoid-mse.yaml"


def classic_raw() -> dict:
    return yaml.safe_load(CLASSIC.read_text(encoding="utf-8"))


def spec_error(change) -> str:
    raw = classic_raw()
    change(raw)
    with pytest.raises(SpecError) as error:
        parse_spec(raw, source="my-spec.yaml")
    return str(error.value)


def test_the_classic_example_loads_in_the_textbook_layout():
    spec = load_spec(CLASSIC)
    assert spec.widths == [3, 3, 2, 2]
    assert [layer.activation_name for layer in spec.layers] == ["relu", "tanh", "sigmoid"]
    np.testing.assert_array_equal(spec.weights()[0][1], [0.4, 0.1, 0.2])  # row 2 = neuron 2
    assert spec.loss.name == "mse" and spec.loss.reduction == "mean"
    assert spec.optimizer.name == "sgd" and spec.optimizer.learning_rate == 0.01
    assert [spec.trainable(name) for name in ("W1", "b1", "W3", "b3")] == [True, False] * 2
    assert spec.steps == 1 and spec.n_examples == 1 and not spec.fused


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_example_is_a_valid_spec(path):
    spec = load_spec(path)
    assert spec.n_layers >= 2


def test_to_model_is_a_float64_sequential_with_W_transposed():
    spec = load_spec(CLASSIC)
    model = spec.to_model()
    assert isinstance(model, Sequential) and model.dtype == np.float64
    for number, (W, b) in enumerate(zip(spec.weights(), spec.biases(), strict=True), start=1):
        np.testing.assert_array_equal(model.params[f"dense_{number}.W"], W.T)
        np.testing.assert_array_equal(model.params[f"dense_{number}.b"], b)
    # The engine's forward equals z = W x + b, layer by layer, written out here.
    a = spec.x()[0]
    W, b = spec.weights(), spec.biases()
    a = np.maximum(W[0] @ a + b[0], 0)
    a = np.tanh(W[1] @ a + b[1])
    a = 1 / (1 + np.exp(-(W[2] @ a + b[2])))
    np.testing.assert_allclose(model.forward(spec.x())[0], a, rtol=1e-15)


def test_to_model_accepts_replacement_weights():
    spec = load_spec(CLASSIC)
    weights = [2 * W for W in spec.weights()]
    model = spec.to_model(weights)
    np.testing.assert_array_equal(model.params["dense_2.W"], weights[1].T)


def test_biases_default_to_zero_and_activation_arguments_pass_through():
    raw = classic_raw()
    del raw["layers"][1]["b"]
    raw["layers"][0]["activation"] = {"name": "leaky_relu", "slope": 0.2}
    spec = parse_spec(raw)
    np.testing.assert_array_equal(spec.biases()[1], [0.0, 0.0])
    assert spec.layers[0].make_activation().slope == 0.2


def test_a_batch_of_inputs_and_targets():
    raw = classic_raw()
    raw["input"] = [[0.3, 0.5, 0.8], [0.1, 0.2, 0.3]]
    raw["target"] = [[0.5, 0.8], [0.1, 0.9]]
    spec = parse_spec(raw)
    assert spec.n_examples == 2 and spec.x().shape == (2, 3) and spec.y().shape == (2, 2)


# -- errors ------------------------------------------------------------------------------------
def test_weight_matrix_that_does_not_fit_the_previous_layer():
    message = spec_error(lambda raw: raw["layers"][1].update(W=[[0.1, 0.2], [0.4, 0.1]]))
    assert message.startswith("my-spec.yaml: ")
    assert "layer 2: W2 has 2 columns but layer 1 has 3 outputs" in message
    assert "W2 is 2×2: rows = output neurons, columns = inputs" in message


def test_weight_matrix_that_does_not_fit_the_input():
    message = spec_error(lambda raw: raw.update(input=[0.3, 0.5]))
    assert "layer 1: W1 has 3 columns but the input has 2 values" in message


def test_ragged_weight_rows():
    message = spec_error(lambda raw: raw["layers"][1]["W"].__setitem__(0, [0.1, 0.2]))
    assert "layer 2: W2: rows have different lengths (2, 3)" in message


def test_bias_length():
    message = spec_error(lambda raw: raw["layers"][0].update(b=[0.2, 0.2]))
    assert "layer 1: b1 has 2 values but W1 has 3 rows (one bias per output neuron)" in message


def test_unknown_activation_lists_the_valid_ones():
    message = spec_error(lambda raw: raw["layers"][1].update(activation="relux"))
    assert "layer 2: activation: unknown activation 'relux'" in message
    for name in ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "improved_sigmoid"):
        assert name in message


def test_missing_target():
    message = spec_error(lambda raw: raw.pop("target"))
    assert "target: missing; give the desired output of the last layer" in message


def test_target_of_the_wrong_length():
    message = spec_error(lambda raw: raw.update(target=[0.5, 0.8, 0.1]))
    assert "target has 3 values but the last layer (layer 3) has 2 outputs" in message


def test_not_a_number():
    message = spec_error(lambda raw: raw.update(input=[0.3, "a", 0.8]))
    assert "input: input value 2 must be a finite number, got 'a'" in message


def test_unknown_keys_list_the_valid_ones():
    assert "the top level: unknown key 'lossy'; valid keys: title" in spec_error(
        lambda raw: raw.update(lossy=1)
    )
    assert "layer 2: unknown key 'weights'; valid keys: activation, W, b" in spec_error(
        lambda raw: raw["layers"][1].update(weights=1)
    )


def test_optimizer_errors():
    assert "optimizer.learning_rate: missing" in spec_error(
        lambda raw: raw["optimizer"].pop("learning_rate")
    )
    assert (
        "writes out gd/sgd, momentum, classic_momentum, nesterov and adam, got 'rmsprop'"
        in spec_error(lambda raw: raw["optimizer"].update(name="rmsprop"))
    )
    assert "got unknown argument(s) momentum" in spec_error(
        lambda raw: raw["optimizer"].update(momentum=0.9)
    )


def test_loss_errors():
    assert "reduction applies to mse only" in spec_error(
        lambda raw: raw.update(loss={"name": "binary_crossentropy", "reduction": "sum"})
    )
    raw = classic_raw()
    raw["layers"][2]["activation"] = "tanh"
    parse_spec(raw)  # mse fits any output activation
    raw = classic_raw()
    raw["layers"][2]["activation"] = "tanh"
    raw["loss"] = "binary_crossentropy"
    with pytest.raises(SpecError, match=r"the last layer \(layer 3\) must use sigmoid or softmax"):
        parse_spec(raw)
    raw["layers"][2]["activation"] = "softmax"
    raw["loss"] = "categorical_crossentropy"
    with pytest.raises(SpecError, match="each target must sum to 1"):
        parse_spec(raw)


def test_freezing_an_unknown_tensor():
    message = spec_error(lambda raw: raw.update(update={"freeze": ["W4"]}))
    assert "update.freeze: unknown tensor 'W4'; this network has W1, b1, W2, b2, W3, b3" in message


def test_only_the_textbook_layout():
    assert "only the textbook layout is accepted" in spec_error(
        lambda raw: raw.update(layout="engine")
    )


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match="explain spec not found"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 2\n", encoding="utf-8")
    with pytest.raises(SpecError, match="bad.yaml:2:1: not valid YAML"):
        load_spec(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(SpecError, match="a spec is a mapping"):
        load_spec(listed)


def test_the_classic_raw_spec_is_not_mutated_by_parsing():
    raw = classic_raw()
    before = copy.deepcopy(raw)
    parse_spec(raw)
    assert raw == before


def test_an_activation_without_a_math_description_cannot_be_written_out(monkeypatch):
    from chainrule.nn.layers import ACTIVATIONS, Activation

    class Mystery(Activation):  # trains, but says nothing about its math
        type_name = "mystery"

    monkeypatch.setattr(ACTIVATIONS, "_factories", dict(ACTIVATIONS._factories))
    ACTIVATIONS.register("mystery", Mystery)
    message = spec_error(lambda raw: raw["layers"][0].update(activation="mystery"))
    assert "layer 1: activation: mystery has no math description" in message


def test_fused_is_what_the_engine_fuses():
    raw = classic_raw()
    assert not parse_spec(raw).fused  # sigmoid + mse
    raw["loss"] = "binary_crossentropy"
    assert parse_spec(raw).fused
    raw["fuse"] = False
    assert not parse_spec(raw).fused


# -- convolutional specs ---------------------------------------------------------------------
def test_conv_specs_parse_to_a_conv_spec():
    spec = load_spec(CONV_MAXPOOL)
    assert isinstance(spec, ConvSpec)
    assert spec.kinds == ["conv2d", "max_pool2d", "flatten", "dense"]
    assert spec.shapes == [(1, 5, 5), (2, 4, 4), (2, 2, 2), (8,), (2,)]
    assert spec.widths == [25, 32, 8, 8, 2]
    assert spec.parameter_names() == ["W1", "b1", "W4", "b4"]
    assert spec.weights()[0].shape == (2, 1, 2, 2) and spec.weights()[1] is None
    assert load_spec(CONV_STRIDED).shapes[1] == (1, 3, 3)  # (5 + 2 - 3) / 2 + 1


def test_conv_to_model_holds_the_kernels_as_given_and_dense_W_transposed():
    spec = load_spec(CONV_MAXPOOL)
    model = spec.to_model()
    np.testing.assert_array_equal(model.params["conv_1.W"], spec.weights()[0])
    np.testing.assert_array_equal(model.params["dense_4.W"], spec.weights()[3].T)
    names = [layer.name for layer in model.layers]
    assert names[0] == "conv_1" and {"pool_2", "flatten_3", "dense_4"} <= set(names)


def test_require_dense_names_the_command():
    with pytest.raises(SpecError, match="f.yaml: chainrule check covers dense specs"):
        require_dense(load_spec(CONV_MAXPOOL), "chainrule check", "f.yaml")
    spec = load_spec(CLASSIC)
    assert require_dense(spec, "chainrule check") is spec


def broken(**changes) -> dict:
    raw = load_raw(CONV_MAXPOOL)
    for key, value in changes.items():
        raw["layers"][0][key] = value
    return raw


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"filters": 3}, "layer 1: filters is 3 but W1 holds 2 kernels"),
        ({"kernel_size": 3}, "layer 1: kernel_size is 3×3 but the kernels of W1 are 2×2"),
        ({"b": [0.1]}, "layer 1: b1 has 1 values but W1 has 2 filters"),
        ({"stride": 2}, "layer 1: stride 2 does not fit: a 2×2 kernel over 5×5"),
        ({"W": [[0.1, 0.2], [0.3]]}, "layer 1: W1: has rows of different lengths (2, 1)"),
        (
            {"W": [[[0.5, -0.3, 0.1], [0.2, 0.4]], [[-0.2, 0.6], [0.7, -0.1]]]},
            "layer 1: W1: [1] has rows of different lengths (3, 2)",
        ),
        ({"stride": "two"}, "layer 1: stride: Input should be a valid integer, unable to parse"),
        ({"activation": "softmax"}, "layer 1: activation: a convolution's activation acts on"),
        ({"padding": -1}, "layer 1: Conv2D: padding must be 'valid', 'same', an integer >= 0"),
        (
            {"W": [[0.1] * 6] * 6, "filters": 1, "kernel_size": 6, "b": [0.1]},
            "layer 1: Conv2D: kernel 6x6 is larger than its padded input 5x5",
        ),
    ],
)
def test_bad_conv_layers_name_the_key_and_shapes(changes, message):
    with pytest.raises(SpecError, match="^<spec>: " + re.escape(message)):
        parse_spec(broken(**changes))


def test_a_bad_conv_key_is_one_problem_with_a_conv_hint():
    raw = load_raw(CONV_MAXPOOL)
    del raw["layers"][0]["W"]
    with pytest.raises(SpecError, match=r"layer 1: W1: missing; give the kernels, \(filters,"):
        parse_spec(raw)
    # stride is an int or a pair: a string fails both, and is said once
    with pytest.raises(SpecError) as error:
        parse_spec(broken(stride="two"))
    assert str(error.value).count("stride") == 1


def test_bad_image_and_layer_order():
    raw = load_raw(CONV_MAXPOOL)
    raw["input"] = [[0.1, 0.2], [0.3]]
    with pytest.raises(SpecError, match="input: .*rows of different lengths"):
        parse_spec(raw)
    raw = load_raw(CONV_MAXPOOL)
    del raw["layers"][2]  # no flatten before the dense layer
    with pytest.raises(SpecError, match="layer 3: a dense layer needs a vector.*flatten"):
        parse_spec(raw)
    raw = load_raw(CONV_MAXPOOL)
    raw["layers"][1] = {"type": "max_pool2d", "pool_size": 3}
    with pytest.raises(SpecError, match="layer 2: stride 3 does not fit"):
        parse_spec(raw)
    raw["layers"][1] = {"type": "maxpool", "pool_size": 2}
    with pytest.raises(SpecError, match="layer 2: unknown layer type 'maxpool'"):
        parse_spec(raw)
    raw["layers"][1] = {"type": "max_pool2d", "size": 2}
    with pytest.raises(SpecError, match="layer 2: unknown key 'size'; valid keys: type, pool_size"):
        parse_spec(raw)
    raw["layers"][1] = {"type": "max_pool2d", "pool_size": 2}
    raw["update"] = {"freeze": ["W2"]}  # layer 2 is a pooling layer: no W2
    with pytest.raises(SpecError, match="update.freeze: unknown tensor 'W2'; this network has W1"):
        parse_spec(raw)
    del raw["update"]
    raw["layers"][1] = 1  # a bare number where a layer's mapping belongs
    with pytest.raises(SpecError, match="layer 2: a layer is a mapping of its keys, not 1"):
        parse_spec(raw)
