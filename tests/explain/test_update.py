"""The update: the engine's optimizer on a ParameterStore, each line printed from its math."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from worked_reference import (
    BCE,
    CLASSIC,
    SOFTMAX,
    assert_printed,
    initial_parameters,
    load_raw,
    momentum_steps,
    printed_values,
    reference_step,
)

from chainrule.explain import compute, explain, parse_spec, render
from chainrule.explain.spec import load_spec
from chainrule.explain.update import Updater, update_formulas
from chainrule.reporting.expr import Style


def test_sigmoid_bce_two_momentum_steps_match_the_reference():
    raw = load_raw(BCE)
    refs = momentum_steps(raw, 2)
    record = compute(load_spec(BCE))
    text = render(record)
    assert record.spec.fused and len(record.steps) == 2
    step_2 = text.split("STEP 2 OF 2")[1]
    values_2 = printed_values(step_2)
    for ref, step in zip(refs, record.steps, strict=True):
        assert step.loss == pytest.approx(ref["mean_loss"], rel=1e-13)
        for i in range(2):
            np.testing.assert_allclose(step.dW[i], ref["mean_dW"][i], rtol=1e-12)
            np.testing.assert_allclose(step.W_new[i], ref["W_new"][i], rtol=1e-14)
            np.testing.assert_allclose(step.b_new[i], ref["b_new"][i], rtol=1e-14)
        assert step.verification.passed
    # step 2 runs forward with the weights after step 1
    assert_printed(values_2, "a1[1]", refs[1]["a"][0][0][0])
    assert_printed(values_2, "a2[1]", refs[1]["a"][0][1][0])
    assert_printed(values_2, "δ2[1]", refs[1]["delta"][0][1][0])  # fused: a - y
    assert_printed(values_2, "dL/dW1[2,2]", refs[1]["mean_dW"][0][1, 1])
    assert_printed(
        values_2, "v(W1[1,1])", 0.9 * refs[0]["mean_dW"][0][0, 0] + refs[1]["mean_dW"][0][0, 0]
    )
    assert "sigmoid + binary cross-entropy, fused as the engine does" in text
    assert record.final_loss < record.steps[0].loss


def test_softmax_ce_adam_step_matches_the_reference():
    raw = load_raw(SOFTMAX)
    W, b = initial_parameters(raw)
    ref = reference_step(raw, W, b)
    record = compute(load_spec(SOFTMAX))
    values = printed_values(render(record))
    step = record.steps[0]
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
    for i in range(2):
        for theta, g, new in (
            (W[i], ref["mean_dW"][i], step.W_new[i]),
            (b[i], ref["mean_db"][i], step.b_new[i]),
        ):
            m = (1 - beta1) * g
            v = (1 - beta2) * g**2
            expected = theta - lr * (m / (1 - beta1)) / (np.sqrt(v / (1 - beta2)) + eps)
            np.testing.assert_allclose(new, expected, rtol=1e-13, atol=1e-16)
    g = ref["mean_dW"][0][0, 0]
    assert_printed(values, "m(W1[1,1])", (1 - beta1) * g)
    assert_printed(values, "v(W1[1,1])", (1 - beta2) * g**2)
    assert_printed(values, "m_hat(W1[1,1])", g)
    for j in range(3):
        assert_printed(values, f"a2[{j + 1}]", ref["a"][0][1][j])
        assert_printed(values, f"δ2[{j + 1}]", ref["delta"][0][1][j])
    assert_printed(values, "L", ref["mean_loss"])


def test_frozen_weights_stay_and_named_tensors_can_be_frozen():
    raw = load_raw(CLASSIC)
    raw["update"] = {"biases": True, "freeze": ["W2"]}
    record = compute(parse_spec(raw))
    step = record.steps[0]
    W, b = initial_parameters(raw)
    np.testing.assert_array_equal(step.W_new[1], W[1])
    assert not np.array_equal(step.W_new[0], W[0])
    assert not np.array_equal(step.b_new[2], b[2])
    text = render(record)
    assert "Frozen (not updated): W2." in text
    assert "W2[1,1] ←" not in text and "b2[1] ←" in text


def test_nothing_trainable_is_allowed():
    raw = load_raw(CLASSIC)
    raw["update"] = {"biases": False, "weights": False}
    record = compute(parse_spec(raw))
    np.testing.assert_array_equal(record.final_W[0], initial_parameters(raw)[0][0])
    assert record.final_loss == pytest.approx(record.steps[0].loss, rel=0, abs=0)


def test_change_digits_show_an_update_smaller_than_the_rounding():
    text = explain(CLASSIC)
    assert "0.1 - 0.01*(-0.0004705) = 0.100004705" in text
    after = re.search(r"L =\s+(\S+) \(change", text).group(1)
    assert not math.isnan(float(after))


def test_the_updater_lays_out_only_the_trained_tensors_and_reads_the_described_state():
    raw = load_raw(SOFTMAX)
    raw["update"] = {"freeze": ["W2"]}
    spec = parse_spec(raw)
    updater = Updater(spec, spec.weights(), spec.biases())
    assert "W2" not in updater and "W1" in updater
    W, b = spec.weights(), spec.biases()
    assert updater.store.size == W[0].size + b[0].size + b[1].size  # one flat buffer
    assert set(updater.state()) == {"m", "v"}  # Adam's math names, not its scaled buffers
    assert all(not state.any() for state in updater.state().values())
    np.testing.assert_array_equal(updater.tensor("W1"), spec.weights()[0])


def test_the_rule_is_the_optimizers_own_lines():
    spec = load_spec(BCE)
    lines = [formula.render(Style()) for formula in update_formulas(spec)]
    assert lines == [
        "v(θ) ← μ*v(θ) + dL/dθ,  θ ← θ - η*v(θ),   η = 0.1, μ = 0.9, v starts at 0 (PyTorch's form)"
    ]


def test_nesterov_is_worked_by_hand_from_its_own_math_description():
    raw = load_raw(CLASSIC)
    raw["optimizer"] = {"name": "nesterov", "learning_rate": 0.01, "momentum": 0.9}
    raw["steps"] = 2
    record = compute(parse_spec(raw))
    text = render(record)
    assert all(step.verification.passed for step in record.steps)
    # PyTorch's Nesterov by hand on the printed gradients: v <- mu v + g, W <- W - eta (g + mu v)
    eta, mu = 0.01, 0.9
    velocity = [np.zeros_like(dW) for dW in record.steps[0].dW]
    for step in record.steps:
        for i, g in enumerate(step.dW):
            velocity[i] = mu * velocity[i] + g
            np.testing.assert_allclose(step.W_new[i], step.W[i] - eta * (g + mu * velocity[i]))
    assert "W1[1,1] - η*(dL/dW1[1,1] + μ*v(W1[1,1]))" in text
