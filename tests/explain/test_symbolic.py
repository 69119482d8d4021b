"""Formulas run on symbols: the nn floor's functions print themselves, values carried along."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.explain.symbolic import Term, last_step, lift
from chainrule.nn.formulas import Ratio, exp, log, sqrt, total, where
from chainrule.reporting.expr import Style, Sym

TEXT, LATEX = Style("text", 4), Style("latex", 4)


def printed(term: Term, style: Style = TEXT) -> str:
    return term.expr.render(style)


def test_one_formula_prints_in_symbols_and_in_numbers_and_computes():
    derivative = lambda z, a: a * (1 - a)  # noqa: E731 - a formula as nn writes one
    assert printed(derivative(Term(Sym("z")), Term(Sym("a")))) == "a*(1 - a)"
    with_numbers = derivative(Term.number(0.1), Term.number(-0.3))
    assert printed(with_numbers) == "(-0.3)*(1 - (-0.3))"
    assert with_numbers.value == pytest.approx(-0.39)


def test_constants_print_in_full_and_ratios_as_fractions():
    a = Term.number(0.123456)
    assert printed(Ratio(2, 3) * (1.7159 - a**2 / 1.7159)) == "(2/3)*(1.7159 - 0.1235^2 / 1.7159)"
    assert printed(Ratio(2, 1) * a) == "2*0.1235"
    assert printed(lift(Ratio(2, 3)), LATEX) == r"\frac{2}{3}"


def test_an_exact_one_is_left_out_but_two_halves_are_shown():
    a, y = Term(Sym("a")), Term(Sym("y"))
    assert printed(Ratio(1, 1) * (a - y)) == "a - y"
    assert printed((a - y) / 1) == "a - y"
    assert printed(1 * a * (1 - a)) == "a*(1 - a)"
    assert printed(Ratio(2, 2) * (a - y)) == "(2/2)*(a - y)"


def test_functions_and_choices_of_the_nn_vocabulary():
    z = Term(Sym("z"))
    assert printed(where(z > 0, 1, 0)) == "(1 if z > 0 else 0)"
    assert printed(exp(-z)) == "exp(-z)"
    assert printed(sqrt(z) + log(z)) == "sqrt(z) + log(z)"
    negative = where(Term.number(-2.0) > 0, 1, 0.1)
    assert negative.value == 0.1
    with pytest.raises(ValueError, match="with 0 only"):
        where(z > 1, 1, 0)
    with pytest.raises(TypeError, match="no truth value"):
        bool(z > 0)


def test_a_sum_prints_as_one_sum_and_its_last_step_shows_the_operands_values():
    zs = [Term.number(v) for v in (0.2, 0.5)]
    entry = exp(zs[0]) / total(exp(z) for z in zs)
    assert printed(entry) == "exp(0.2) / (exp(0.2) + exp(0.5))"
    expected = np.exp(0.2) / (np.exp(0.2) + np.exp(0.5))
    assert entry.value == pytest.approx(expected, rel=1e-15)
    assert last_step(entry).render(TEXT) == "1.221 / 2.87"
    with pytest.raises(ValueError, match="no last step"):
        last_step(exp(Term(Sym("z"))))


def test_anything_but_numbers_and_symbols_is_refused():
    with pytest.raises(TypeError, match="numbers and symbols"):
        Term(Sym("a")) * "2"
