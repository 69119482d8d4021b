"""The loss: its convention and per-example formula, all read from the loss's description."""

from __future__ import annotations

import pytest
from worked_reference import BCE, CLASSIC, load_raw, printed_values, shown

from chainrule.explain import compute, explain, parse_spec, render
from chainrule.explain.loss import loss_convention, output_gradient_formula
from chainrule.reporting.expr import Style


def test_the_classic_convention_is_written_out():
    text = " ".join(explain(CLASSIC).split())  # prose may wrap
    assert "L = (1/2) Σ_j (a3[j] - y[j])^2" in text
    assert "mean squared error, averaged over the 2 outputs (reduction: mean)" in text


@pytest.mark.parametrize(
    ("reduction", "gradient"),
    [("mean", "(2/2)*(a3[j] - y[j])"), ("sum", "2*(a3[j] - y[j])"), ("half_sum", "a3[j] - y[j]")],
)
def test_each_mse_reduction_gives_its_own_output_gradient(reduction, gradient):
    raw = load_raw(CLASSIC)
    raw["loss"] = {"name": "mse", "reduction": reduction}
    spec = parse_spec(raw)
    assert output_gradient_formula(spec).text(Style()) == f"dL/da3[j] = {gradient}"
    record = compute(spec)
    example = record.steps[0].examples[0]
    values = printed_values(render(record))
    assert values["dL/da3[1]"][0] == shown(example.dL_da[-1][0])
    line = next(line for line in render(record).splitlines() if "dL/da3[1]" in line)
    assert line.split("=")[1].strip() == gradient.replace("[j]", "[1]")


def test_a_batch_says_the_loss_is_its_mean():
    raw = load_raw(CLASSIC)
    raw["input"], raw["target"] = [raw["input"]] * 2, [raw["target"]] * 2
    sentence, formula = loss_convention(parse_spec(raw))
    assert sentence.endswith("; the batch loss is the mean over the 2 examples")
    assert formula.text(Style()) == "L = (1/2) Σ_j (a3[j] - y[j])^2"


def test_the_fused_output_starts_at_the_logits_and_says_why():
    text = explain(BCE)
    assert "δ2 = dL/dz2 = a2 - y" in text
    assert "sigmoid + binary cross-entropy, fused as the engine does" in text
    assert "Set fuse: false in the spec" in text
