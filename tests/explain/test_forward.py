"""The forward pass: z = W a + b and a = f(z), neuron by neuron, f from its description."""

from __future__ import annotations

import numpy as np
from worked_reference import CLASSIC, SOFTMAX, load_raw, shown

from chainrule.explain import compute, explain, parse_spec, render
from chainrule.explain.forward import forward_blocks, passes_through
from chainrule.explain.spec import load_spec
from chainrule.nn.layers import Identity, LeakyReLU, ReLU, Softmax
from chainrule.reporting.expr import Style


def test_classic_first_neuron_line_is_exactly_the_textbook_line():
    text = explain(CLASSIC)
    lines = [line.strip() for line in text.splitlines()]
    assert "a1[1] = ReLU(0.3*0.1 + 0.5*0.2 + 0.8*0.2 + 0.2) = ReLU(0.49) = 0.49" in lines


def test_softmax_entries_print_from_its_description_down_to_the_last_division():
    record = compute(load_spec(SOFTMAX))
    example = record.steps[0].examples[0]
    z, a = example.z[-1], example.a[-1]
    text = render(record, digits=4)
    exps = " + ".join(f"exp({shown(v)})" for v in z)
    line = (
        f"a2[1] = exp(z2[1]) / (exp(z2[1]) + exp(z2[2]) + exp(z2[3])) = exp({shown(z[0])}) / "
        f"({exps}) = {shown(np.exp(z[0]))} / {shown(np.exp(z).sum())} = {shown(a[0])}"
    )
    assert line in " ".join(text.split()), line  # equations may wrap after an "="
    assert "a2[j] = exp(z2[j]) / Σ_k exp(z2[k])" in text


def test_the_identity_prints_no_function_and_others_their_definition():
    raw = load_raw(CLASSIC)
    raw["layers"][2]["activation"] = "identity"
    raw["loss"] = {"name": "mse", "reduction": "sum"}
    spec = parse_spec(raw)
    example = compute(spec).steps[0].examples[0]
    blocks = forward_blocks(spec, spec.weights(), spec.biases(), example)
    layer_3 = blocks[2]
    assert layer_3.notes == []  # no "where identity(z) = z"
    assert [len(eq.rhs) for eq in layer_3.equations] == [1, 1]  # a3[j] = the sum itself
    assert blocks[0].notes[0][1].text(Style()) == "ReLU(z) = max(0, z)"


def test_passes_through_recognises_only_the_identity():
    assert passes_through(Identity().math)
    for layer in (ReLU(), LeakyReLU(1.0), Softmax()):
        assert not passes_through(layer.math)
