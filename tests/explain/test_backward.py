"""The backward pass: dL/da, each activation's derivative from its description, δ, gradients."""

from __future__ import annotations

import numpy as np
import pytest
from worked_reference import CLASSIC, SOFTMAX, assert_printed, load_raw, printed_values, shown

from chainrule.explain import compute, parse_spec, render
from chainrule.explain.backward import backward_blocks, local_equation
from chainrule.reporting.expr import Style


def test_unfused_softmax_goes_through_the_jacobian_and_gives_the_same_gradients():
    raw = load_raw(SOFTMAX)
    fused = compute(parse_spec(raw))
    raw["fuse"] = False
    unfused = compute(parse_spec(raw))
    for i in range(2):
        np.testing.assert_allclose(unfused.steps[0].dW[i], fused.steps[0].dW[i], rtol=1e-12)
    jac = unfused.steps[0].examples[0].local[1]
    a = unfused.steps[0].examples[0].a[1]
    np.testing.assert_allclose(jac, np.diag(a) - np.outer(a, a), rtol=1e-14)
    values = printed_values(render(unfused))
    assert_printed(values, "da2[1]/dz2[2]", -a[0] * a[1])
    assert_printed(values, "dL/da2[2]", -1 / a[1])
    assert unfused.steps[0].verification.passed


def test_each_derivative_is_written_from_its_description_in_symbols_then_numbers():
    raw = load_raw(CLASSIC)
    raw["layers"][0]["activation"] = {"name": "leaky_relu", "slope": 0.12345}
    raw["layers"][2]["activation"] = "identity"
    raw["loss"] = {"name": "mse", "reduction": "sum"}
    spec = parse_spec(raw)
    example = compute(spec).steps[0].examples[0]
    leaky = local_equation(spec, 1, example, 0)
    z = example.z[0][0]
    assert [form.render(Style()) for form in leaky.rhs] == [
        "(1 if z1[1] > 0 else 0.12345)",  # a constant of the formula, printed in full
        f"(1 if {shown(z)} > 0 else 0.12345)",
    ]
    tanh = local_equation(spec, 2, example, 0)
    assert tanh.rhs[0].render(Style()) == "1 - a2[1]^2"
    assert tanh.value == pytest.approx(1 - example.a[1][0] ** 2)
    identity = local_equation(spec, 3, example, 0)
    assert identity.rhs == [] and identity.value == 1  # f' = 1: nothing to write out
    blocks = backward_blocks(spec, spec.weights(), example)
    formulas = [formula.render(Style()) for formula in blocks[0].formulas]
    assert "identity'(z) = 1" in formulas
