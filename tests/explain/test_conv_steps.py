"""The printed convolution steps: every pixel's written-out sum equals the engine's value, and
the backward pass's sums are the textbook's (correlation for dW, full convolution with the
flipped kernel for dx, routing for max pooling, an even spread for average pooling)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from worked_reference import CONV_MAXPOOL, CONV_STRIDED, full_convolution, load_raw

from chainrule.explain import compute, render
from chainrule.explain.conv_steps import TIE_RULE
from chainrule.explain.record import equation_values
from chainrule.explain.spec import load_spec, parse_spec
from chainrule.reporting.expr import Style


def _record(path):
    return compute(load_spec(path))


def _equations(record, title_part: str):
    """Each (plain text of the numbers form, value) of blocks whose title holds title_part."""
    style = Style("text", 17)
    found = []
    for section in record.steps[0].sections:
        for block in section.blocks:
            if title_part in block.title:
                for equation in block.equations:
                    forms = [form.render(style) for form in equation.rhs]
                    found.append((equation.lhs.text(style), forms, equation.value))
    return found


def _evaluate(text: str) -> float:
    """A printed sum of products, evaluated as printed (numbers, + - * / and parentheses)."""
    assert re.fullmatch(r"[0-9eE.+\-*/() ]+", text), text
    return float(eval(text))  # digits and operators only, checked above


@pytest.mark.parametrize("path", [CONV_MAXPOOL, CONV_STRIDED], ids=lambda p: p.name)
def test_each_convolution_pixel_is_its_printed_sum_of_products(path):
    record = _record(path)
    pixels = [e for e in _equations(record, "convolution, ") if e[0].startswith("z1[")]
    assert len(pixels) == record.steps[0].examples[0].z[0].size
    for name, forms, value in pixels:
        assert _evaluate(forms[-1]) == pytest.approx(value, abs=1e-14), name


@pytest.mark.parametrize("path", [CONV_MAXPOOL, CONV_STRIDED], ids=lambda p: p.name)
def test_dW_and_dx_sums_are_the_correlation_and_the_flipped_kernel_convolution(path):
    raw, record = load_raw(path), _record(path)
    step = record.steps[0]
    example = step.examples[0]
    conv = raw["layers"][0]
    values = equation_values(step.sections)
    dx = full_convolution(example.delta[0], step.W[0], conv["stride"], conv["padding"])
    np.testing.assert_allclose(example.dL_dx, dx, atol=1e-15)
    for name, forms, value in _equations(record, "the gradient for its input"):
        if forms:
            assert _evaluate(forms[-1]) == pytest.approx(value, abs=1e-15), name
        index = tuple(int(i) - 1 for i in name[len("dL/dx[") : -1].split(","))
        assert value == pytest.approx(dx[index], abs=1e-15)
    for name, forms, value in _equations(record, "Layer 1 (convolution)"):
        if name.startswith("dL/dW1") or name.startswith("dL/db1"):
            assert _evaluate(forms[-1]) == pytest.approx(value, abs=1e-15), name
            assert values[name] == value
    assert step.verification.arithmetic_max_difference < 1e-13


def test_max_pooling_prints_its_choice_and_the_engines_tie_rule():
    record = _record(CONV_MAXPOOL)
    text = render(record)
    assert "a2[1,1,1] <- a1[1,2,2]" in text  # 0.75 is the largest of 0.49, 0.74, 0.15, 0.75
    assert TIE_RULE.split(":")[0] in text and "first maximum" in text
    routed = _equations(record, "Layer 2 (max pooling)")
    assert len(routed) == record.steps[0].examples[0].a[1].size  # one per window, no overlap
    assert all(form[0].startswith("dL/da2[") for _, form, _ in routed)


def test_a_tied_window_is_marked_where_its_choice_is_named():
    assert "(a tie: the first maximum)" not in render(_record(CONV_MAXPOOL))
    raw = load_raw(CONV_MAXPOOL)
    raw["input"] = [[1.0] * 5 for _ in range(5)]  # every window of a1 is constant: all ties
    text = " ".join(render(compute(parse_spec(raw))).split())
    assert "a2[1,1,1] <- a1[1,1,1] (a tie: the first maximum)" in text


def test_average_pooling_spreads_each_gradient_over_its_overlapping_windows():
    record = _record(CONV_STRIDED)
    example = record.steps[0].examples[0]
    dL_da2 = example.dL_da[1][0]
    expected = np.zeros((3, 3))
    for i, j in np.ndindex(2, 2):  # 2x2 windows, stride 1: they overlap
        expected[i : i + 2, j : j + 2] += dL_da2[i, j] / 4
    np.testing.assert_allclose(example.dL_da[0][0], expected, atol=1e-16)
    spread = _equations(record, "Layer 2 (average pooling)")
    middle = next(forms for name, forms, _ in spread if name == "dL/da1[1,2,2]")
    assert middle[0].count("dL/da2") == 4  # the centre is in all four windows
    for _, forms, value in spread:
        assert _evaluate(forms[-1]) == pytest.approx(value, abs=1e-16)


def test_padding_and_stride_are_said_and_shown():
    text = render(_record(CONV_STRIDED))
    assert "stride 2, padding 1 -> 1×3×3" in text
    assert "pad(x)[1,1,1]" in text  # dW reads the padded image
    assert "stride-dilated (1 zero between entries)" in text and "padding cropped off" in text


@pytest.mark.parametrize("path", [CONV_MAXPOOL, CONV_STRIDED], ids=lambda p: p.name)
def test_no_index_is_named_x_or_y(path):
    """x is the image and y the target, so the backward formulas index input maps by u, v."""
    formulas = [
        formula.text(Style())
        for section in _record(path).steps[0].sections
        for block in section.blocks
        for formula in block.formulas
    ]
    gradients = [f for f in formulas if f.startswith(("dL/dx[", "dL/da1["))]
    assert gradients and all(f.startswith(("dL/dx[c,u,v]", "dL/da1[c,u,v]")) for f in gradients)
    assert not any(re.search(r"\[c,y,x\]|[,\[][xy]-", f) for f in formulas)


def test_a_gradient_map_is_named_as_its_entries_are():
    text = render(_record(CONV_STRIDED))
    assert "dL/da1[1,:,:] = [" in text and "dL/dx[1,:,:] = [" in text
    assert "dL/d(" not in text


def test_markdown_tables_number_rows_and_columns_as_the_sheet_does():
    page = render(_record(CONV_MAXPOOL), "markdown")
    assert "| W1[1,1,:,:] | col 1 | col 2 |" in page and "| row 2 | 0.2 | 0.4 |" in page
    assert "| i = 1 |" not in page
