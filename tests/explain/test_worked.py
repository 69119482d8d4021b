"""compute(): the whole worked example, every number against a plain-NumPy reference.

The reference (``worked_reference``) shares no code with chainrule; the tests compare the
structured record with it, and every number the text output prints with it (parsed from the
output, at the digits asked for). The parts have their own modules: forward, loss, backward,
update, verify.
"""

from __future__ import annotations

import numpy as np
import pytest
from worked_reference import (
    CLASSIC,
    assert_printed,
    assert_update_printed,
    initial_parameters,
    load_raw,
    printed_values,
    reference_step,
)

from chainrule.explain import compute, explain, parse_spec, render
from chainrule.explain.spec import load_spec


def test_classic_every_printed_number_matches_the_reference():
    raw = load_raw(CLASSIC)
    W, b = initial_parameters(raw)
    ref = reference_step(raw, W, b)
    record = compute(load_spec(CLASSIC), source=str(CLASSIC))
    step = record.steps[0]
    values = printed_values(render(record))
    names = {1: "ReLU", 2: "tanh", 3: "sigmoid"}
    for layer in (1, 2, 3):
        i = layer - 1
        np.testing.assert_allclose(step.examples[0].a[i], ref["a"][0][i], rtol=1e-14)
        np.testing.assert_allclose(step.examples[0].delta[i], ref["delta"][0][i], rtol=1e-12)
        np.testing.assert_allclose(step.dW[i], ref["mean_dW"][i], rtol=1e-12, atol=1e-18)
        for j in range(len(W[i])):
            assert_printed(values, f"a{layer}[{j + 1}]", ref["a"][0][i][j])
            assert_printed(values, f"dL/da{layer}[{j + 1}]", ref["dL_da"][0][i][j])
            assert_printed(values, f"{names[layer]}'(z{layer}[{j + 1}])", ref["local"][0][i][j, j])
            assert_printed(values, f"δ{layer}[{j + 1}]", ref["delta"][0][i][j])
            assert_printed(values, f"dL/db{layer}[{j + 1}]", ref["mean_db"][i][j])
            for k in range(W[i].shape[1]):
                gradient = ref["mean_dW"][i][j, k]
                assert_printed(values, f"dL/dW{layer}[{j + 1},{k + 1}]", gradient)
                new = W[i][j, k] - 0.01 * gradient  # one GD step, lr 0.01
                np.testing.assert_allclose(step.W_new[i][j, k], new, rtol=1e-15)
                assert_update_printed(values, f"W{layer}[{j + 1},{k + 1}]", new, W[i][j, k])
        np.testing.assert_array_equal(step.b_new[i], b[i])  # biases frozen
        assert f"b{layer}[1]" not in values  # and no update line for them
    assert_printed(values, "L", ref["mean_loss"])
    assert step.loss == pytest.approx(ref["mean_loss"], rel=1e-14)


def test_classic_numbers_quoted_in_the_report():
    record = compute(load_spec(CLASSIC))
    step = record.steps[0]
    assert step.loss == pytest.approx(0.021753459564985, rel=1e-12)
    expected_dW1 = [
        [-4.70478141e-04, -7.84130235e-04, -1.25460838e-03],
        [1.87882548e-04, 3.13137579e-04, 5.01020127e-04],
        [2.66198576e-05, 4.43664294e-05, 7.09862870e-05],
    ]
    np.testing.assert_allclose(step.dW[0], expected_dW1, rtol=1e-8)


def test_digits_option_changes_only_the_display():
    text = explain(CLASSIC, digits=7)
    values = printed_values(text)
    raw = load_raw(CLASSIC)
    ref = reference_step(raw, *initial_parameters(raw))
    assert_printed(values, "a2[1]", ref["a"][0][1][0], digits=7)
    assert_printed(values, "dL/dW1[1,1]", ref["mean_dW"][0][0, 0], digits=7)
    assert "rounded to 7 significant digits" in text


def test_the_overview_states_the_layout_and_names_each_part_from_its_description():
    text = explain(CLASSIC)
    assert "Layout: textbook. W_l has one row per output neuron" in text
    assert "z_l = W_l a_(l-1) + b_l" in text and "stores the transpose" in text
    assert "Layers: 3 inputs -> 3 (ReLU) -> 2 (tanh) -> 2 (sigmoid)." in text
    assert "Optimizer: gradient descent (learning_rate 0.01); 1 step; frozen: b1, b2, b3." in text


# -- variations: batches, every activation and loss ----------------------------------------
@pytest.mark.parametrize(
    ("activations", "loss"),
    [
        (["leaky_relu", "improved_sigmoid", "identity"], {"name": "mse", "reduction": "sum"}),
        (["softmax", "tanh", "sigmoid"], {"name": "mse", "reduction": "half_sum"}),
        (["sigmoid", "relu", "sigmoid"], {"name": "binary_crossentropy"}),
        (["improved_sigmoid", "softmax", "softmax"], {"name": "categorical_crossentropy"}),
    ],
)
@pytest.mark.parametrize("fuse", [True, False])
def test_batches_and_every_activation_match_the_reference(activations, loss, fuse):
    rng = np.random.default_rng(len(activations[0]) + 7 * fuse)
    widths = [3, 4, 2, 3]
    layers = []
    for number, name in enumerate(activations, start=1):
        act = {"name": "leaky_relu", "slope": 0.2} if name == "leaky_relu" else name
        layers.append(
            {
                "activation": act,
                "W": rng.normal(size=(widths[number], widths[number - 1])).tolist(),
                "b": rng.normal(size=widths[number]).tolist(),
            }
        )
    if loss["name"] == "categorical_crossentropy":
        target = [[0, 0, 1], [1, 0, 0]]
    elif loss["name"] == "binary_crossentropy":
        target = [[1, 0, 1], [0, 0, 1]]
    else:
        target = rng.normal(size=(2, 3)).tolist()
    raw = {
        "input": rng.normal(size=(2, 3)).tolist(),
        "target": target,
        "layers": layers,
        "loss": loss,
        "optimizer": {"name": "gd", "learning_rate": 0.1},
        "fuse": fuse,
    }
    record = compute(parse_spec(raw))
    ref = reference_step(raw, *initial_parameters(raw))
    step = record.steps[0]
    assert step.loss == pytest.approx(ref["mean_loss"], rel=1e-12)
    for i in range(3):
        np.testing.assert_allclose(step.dW[i], ref["mean_dW"][i], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(step.db[i], ref["mean_db"][i], rtol=1e-10, atol=1e-14)
        for e in range(2):
            np.testing.assert_allclose(step.examples[e].a[i], ref["a"][e][i], rtol=1e-13)
    assert step.verification.passed
    values = printed_values(render(record))
    assert_printed(values, "L", ref["mean_loss"])
    assert_printed(values, "L[2]", ref["loss"][1])
    assert_printed(values, "dL/dW2[1,1]", ref["mean_dW"][1][0, 0])
    assert_printed(values, "dL/db3[2]", ref["mean_db"][2][1])
