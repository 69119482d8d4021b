"""Expressions print the same structure as text and LaTeX, parenthesized by precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainrule.reporting.expr import Add, Int, Mul, Neg, Num, Style, Sub, Sym

TEXT, LATEX = Style("text", digits=4), Style("latex", digits=4)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("negative", [Num(-0.2), Int(-2), Neg(Sym("y"))], ids=repr)
def test_a_negative_subtrahend_is_parenthesized_like_a_negative_factor(negative):
    for style in (TEXT, LATEX):
        as_factor = Mul(Num(0.3), negative).render(style)
        wrapped = as_factor.split("*", 1)[1] if style is TEXT else as_factor.split(" \\cdot ", 1)[1]
        assert wrapped.startswith(("(", "\\left(")), as_factor
        assert Sub(Num(0.05077), negative).render(style) == f"0.05077 - {wrapped}"


def test_subtraction_still_prints_plain_operands_bare():
    assert Sub(Num(0.05077), Num(0.2)).render(TEXT) == "0.05077 - 0.2"
    assert Sub(Sym("a"), Add(Sym("b"), Sym("c"))).render(TEXT) == "a - (b + c)"
    assert Sub(Sub(Sym("a"), Sym("b")), Num(-1.5)).render(TEXT) == "a - b - (-1.5)"


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "html"])
def test_a_negative_target_never_prints_minus_minus(tmp_path, fmt):
    from chainrule.explain import explain

    spec = (EXAMPLES / "relu-tanh-sigmoid-mse.yaml").read_text()
    assert "target: [0.5, 0.8]" in spec
    path = tmp_path / "negative-target.yaml"
    path.write_text(spec.replace("target: [0.5, 0.8]", "target: [-0.2, 0.8]"))
    out = explain(path, fmt=fmt)
    assert "- -" not in out and "--0.2" not in out
    assert ("- \\left(-0.2\\right)" if fmt != "text" else "- (-0.2)") in out
