"""The record's values by their printed names, alike for dense and convolutional specs."""

from __future__ import annotations

import pytest
from worked_reference import CLASSIC, CONV_MAXPOOL

from chainrule.explain import compute
from chainrule.explain.record import ConvExampleState, equation_values
from chainrule.explain.spec import load_spec
from chainrule.reporting.expr import latex_number


def test_dense_values_by_name():
    step = compute(load_spec(CLASSIC)).steps[0]
    values = equation_values(step.sections)
    example = step.examples[0]
    assert values["a1[1]"] == example.a[0][0]
    assert values["δ3[2]"] == example.delta[2][1]
    assert values["dL/dW2[1,3]"] == step.dW[1][0, 2]
    assert values["W1[1,1]"] == step.W_new[0][0, 0]  # the update's last line


def test_conv_values_by_name_with_one_index_per_axis():
    step = compute(load_spec(CONV_MAXPOOL)).steps[0]
    values = equation_values(step.sections)
    example = step.examples[0]
    assert isinstance(example, ConvExampleState)
    assert values["z1[2,3,4]"] == example.z[0][1, 2, 3]  # filter 2, row 3, column 4
    assert values["a2[1,2,1]"] == example.a[1][0, 1, 0]  # pooled
    assert values["a3[5]"] == example.a[2][4]  # flattened
    assert values["δ1[1,2,2]"] == example.delta[0][0, 1, 1]
    assert values["dL/da1[1,2,2]"] == example.dL_da[0][0, 1, 1]  # routed back by the pool
    assert values["dL/dx[1,5,5]"] == example.dL_dx[0, 4, 4]
    assert values["dL/dW1[2,1,1,2]"] == step.dW[0][1, 0, 0, 1]
    assert values["dL/db1[2]"] == step.db[0][1]
    assert values["W1[1,1,2,1]"] == step.W_new[0][0, 0, 1, 0]
    assert values["L"] == pytest.approx(step.loss)
    assert example.input_gradient(1) is example.dL_dx


def test_one_section_of_a_worked_example_shows_on_its_own():
    record = compute(load_spec(CLASSIC), paths=["W1[1,1]"])
    step = record.steps[0]
    backward = record.section("Backward pass")
    assert backward is next(s for s in step.sections if s.title == "Backward pass")
    assert record.section("Network") is record.overview
    assert record.section("Summary") is record.summary

    # In a notebook it shows its own numbers, and no other section's, as Markdown with TeX
    # (no HTML, which would show the math in Unicode instead of having it typeset).
    assert backward._repr_html_() is None
    markdown = backward._repr_markdown_()
    assert markdown.startswith("# Backward pass")
    delta = equation_values([backward])["δ3[1]"]
    assert delta == step.examples[0].delta[2][0]
    assert f"= {latex_number(delta, 4)}$" in markdown
    assert "Forward pass" not in markdown and "Verification" not in markdown
    assert "\\begin{pmatrix}" in record.section("Update")._repr_latex_()
    assert repr(backward) == f"Section('Backward pass', {len(backward.blocks)} blocks)"


def test_asking_for_a_section_that_is_not_there_names_the_choices():
    record = compute(load_spec(CLASSIC))
    with pytest.raises(
        ValueError, match=r"no section 'Backprop' in step 1: choose one of .*'Loss'"
    ):
        record.section("Backprop")
    with pytest.raises(
        ValueError, match="step 2 is not in this worked example: it has steps 1 to 1"
    ):
        record.section("Loss", step=2)
