"""The vocabulary components describe their math in: functions of numbers, notation, rules."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.nn.formulas import (
    PARAMETER,
    Notation,
    OptimizerMath,
    Ratio,
    UpdateRule,
    exp,
    literal,
    log,
    sqrt,
    tanh,
    tex_number,
    total,
    where,
)


def test_the_functions_compute_with_numpy_on_numbers_and_arrays():
    z = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(exp(z), np.exp(z))
    np.testing.assert_allclose(log(exp(z)), z)
    np.testing.assert_allclose(sqrt(np.array([4.0, 9.0])), [2.0, 3.0])
    np.testing.assert_allclose(tanh(z), np.tanh(z))
    np.testing.assert_array_equal(where(z > 0, 1, 0), [0, 0, 1])
    assert total([1.5, 2.0, 3.0]) == 6.5
    assert total(x * x for x in (1, 2, 3)) == 14


def test_total_of_nothing_is_refused():
    with pytest.raises(ValueError, match="at least one term"):
        total([])


def test_a_ratio_is_the_float_it_stands_for_and_remembers_its_fraction():
    two_thirds = Ratio(2, 3)
    assert two_thirds == 2.0 / 3.0
    assert (two_thirds.numerator, two_thirds.denominator) == (2, 3)
    np.testing.assert_array_equal(two_thirds * np.ones(2), np.full(2, 2.0 / 3.0))
    assert repr(two_thirds) == "Ratio(2, 3)"


def test_tex_numbers_and_literals():
    assert tex_number(0.01) == "0.01"
    assert tex_number(1e-8) == "10^{-8}"
    assert tex_number(2.5e-5) == r"2.5 \times 10^{-5}"
    template = rf"\max({{z}}, {literal(tex_number(1e-5))} {{z}})"
    assert template.format(z="Z_1") == r"\max(Z_1, 10^{-5} Z_1)"


def test_notation_fills_text_and_tex_each_with_its_own_form():
    line = Notation("η = {learning_rate}, {a}[j]", r"\eta = {learning_rate}, {a}_j")
    filled = line.format(learning_rate=1e-8, a=Notation("a3", "a^{(3)}"))
    assert filled == Notation("η = 1e-08, a3[j]", r"\eta = 10^{-8}, a^{(3)}_j")


def test_an_update_rule_names_what_it_uses_and_evaluates_on_them():
    rule = UpdateRule("v", lambda v, g, momentum: momentum * v + g, r"\mu v + g")
    assert rule.inputs == ("v", "g", "momentum")
    assert rule.evaluate({"v": 1.0, "g": 0.5, "momentum": 0.9}) == pytest.approx(1.4)
    assert UpdateRule(PARAMETER, lambda theta: theta, "").target_tex == r"\theta"
    assert UpdateRule("m_hat", lambda m: m, "").target_tex == r"\hat{m}"
    assert rule.target_tex == "v"


def test_a_rule_using_an_unknown_quantity_says_which():
    rule = UpdateRule(PARAMETER, lambda theta, lr: theta - lr, "")
    with pytest.raises(ValueError, match="uses 'lr'.*known: θ, g"):
        rule.evaluate({PARAMETER: 1.0, "g": 0.1})


def test_an_optimizers_rules_run_in_order_each_seeing_the_earlier_targets():
    math = OptimizerMath(
        name="momentum",
        short_name="momentum",
        symbols={},
        rules=(
            UpdateRule("v", lambda v, g: 0.5 * v + g, ""),
            UpdateRule(PARAMETER, lambda theta, v: theta - v, ""),
        ),
    )
    after = math.step({PARAMETER: 1.0, "g": 0.25, "v": 1.0})
    assert after["v"] == 0.75 and after[PARAMETER] == 0.25


def test_each_class_docstring_ends_with_the_math_that_derive_and_explain_print():
    from chainrule.nn.layers import ReLU, Sigmoid, Tanh
    from chainrule.nn.optim import SGD, Adam, RMSProp

    for activation in (ReLU, Sigmoid, Tanh):
        doc = activation.__doc__
        assert activation.math.definition.text in doc
        assert activation.math.derivative_definition.text in doc
        assert doc.index("As derive and explain print it") > 0  # after the class's own prose
    assert "θ ← θ - η*dL/dθ,   η = <learning_rate>" in SGD.__doc__
    assert "sqrt(v_hat) + ε" in Adam.__doc__
    for rule in RMSProp.math.rules:  # no worked lines: the rules as the derivation writes them
        assert f"{rule.target} {rule.relation} {rule.tex}" in RMSProp.__doc__


def test_a_layers_equations_end_its_docstring_forward_then_backward():
    from chainrule.nn.formulas import LayerEquation, LayerMath, docstring_section

    math = LayerMath(
        name="scaling",
        forward=(LayerEquation("{out}", r"2 {x}", "a = 2 x"),),
        backward=(LayerEquation("{dx}", r"2 {dout}", "dx = 2 dout", when="input_grad"),),
        edges={"x": r"2 \cdot"},
        values=lambda layer: {},
    )
    section = docstring_section(math)
    assert "As derive and graph print it (scaling, from ``math``)" in section
    assert section.index("Forward:") < section.index("a = 2 x") < section.index("Backward:")
    assert section.index("Backward:") < section.index("dx = 2 dout")
