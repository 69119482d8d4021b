"""The nn floor's formulas, run on symbols: the function that computes a number also prints it.

An activation describes its derivative as a Python function, ``lambda z, a: a * (1 - a)``
(``chainrule.nn.formulas``). Called with two :class:`Term` s it returns a Term whose
expression is the printed formula, in symbols or with numbers::

    >>> from chainrule.reporting.expr import Style, Sym
    >>> derivative = lambda z, a: a * (1 - a)
    >>> derivative(Term(Sym("z")), Term(Sym("a"))).expr.render(Style())
    'a*(1 - a)'
    >>> derivative(Term.number(0.3), Term.number(0.6)).expr.render(Style())
    '0.6*(1 - 0.6)'

A Term also carries its value when its operands have one, so an intermediate result (a bias
correction, a sum of exponentials) is computed by the very formula that prints it. Constants
of a formula are printed in full (``1.7159``; a ``Ratio`` as the fraction it is, ``2/3``);
multiplying or dividing by an exact 1 is left out, so ``Ratio(1, k)`` vanishes when k = 1.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.nn.formulas import Ratio
from chainrule.reporting.expr import (
    Add,
    Call,
    Cases,
    Div,
    Expr,
    Frac,
    Int,
    Mul,
    Neg,
    Num,
    Pow,
    Raw,
    Sub,
    format_number,
    latex_number,
)

#: The functions of ``chainrule.nn.formulas``, computed on the values.
_NUMERIC = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh}


class Term:
    """An expression, its value when known, and how it was built from its operands."""

    def __init__(
        self,
        expr: Expr,
        value: float | None = None,
        *,
        constant: bool = False,
        parts: tuple[Term, ...] = (),
        build: Callable[..., Expr] | None = None,
    ) -> None:
        self.expr = expr
        self.value = value
        self.constant = constant  # a number written in the formula itself (1, 2/3, 1.7159)
        self.parts = parts
        self.build = build

    @classmethod
    def number(cls, value: float) -> Term:
        """A computed number, printed rounded like every number of the worked example."""
        return cls(Num(float(value)), float(value))

    def __repr__(self) -> str:
        return f"Term({self.expr!r}, {self.value!r})"

    # -- arithmetic ------------------------------------------------------------------------
    def __add__(self, other: Any) -> Term:
        return _combine(Add, self, lift(other), _values(self, other, lambda a, b: a + b))

    def __radd__(self, other: Any) -> Term:
        return lift(other) + self

    def __sub__(self, other: Any) -> Term:
        return _combine(Sub, self, lift(other), _values(self, other, lambda a, b: a - b))

    def __rsub__(self, other: Any) -> Term:
        return lift(other) - self

    def __mul__(self, other: Any) -> Term:
        other = lift(other)
        if other.is_one:
            return self
        if self.is_one:
            return other
        return _combine(Mul, self, other, _values(self, other, lambda a, b: a * b))

    def __rmul__(self, other: Any) -> Term:
        return lift(other) * self

    def __truediv__(self, other: Any) -> Term:
        other = lift(other)
        if other.is_one:
            return self
        return _combine(Div, self, other, _values(self, other, lambda a, b: a / b))

    def __rtruediv__(self, other: Any) -> Term:
        return lift(other) / self

    def __pow__(self, other: Any) -> Term:
        return _combine(Pow, self, lift(other), _values(self, other, lambda a, b: a**b))

    def __neg__(self) -> Term:
        value = None if self.value is None else -self.value
        return Term(Neg(self.expr), value, parts=(self,), build=Neg)

    def __gt__(self, other: Any) -> Condition:
        if not (isinstance(other, numbers.Real) and other == 0):
            raise ValueError(f"a formula compares a symbol with 0 only, got > {other!r}")
        return Condition(self)

    @property
    def is_one(self) -> bool:
        """An exact 1 written in the formula (1, or Ratio(1, 1)); not 2/2, which prints."""
        return self.constant and isinstance(self.expr, Int) and self.expr.value == 1

    # -- the functions of chainrule.nn.formulas --------------------------------------------
    def formula_function(self, name: str) -> Term:
        value = None if self.value is None else float(_NUMERIC[name](self.value))
        return Term(Call(name, self.expr), value, parts=(self,), build=lambda x: Call(name, x))

    @staticmethod
    def formula_total(terms: Sequence[Any]) -> Term:
        lifted = [lift(term) for term in terms]
        value = None
        if all(term.value is not None for term in lifted):
            value = lifted[0].value
            for term in lifted[1:]:
                value += term.value  # left to right, as NumPy sums a row of fewer than 8
        return Term(Add(*[t.expr for t in lifted]), value, parts=tuple(lifted), build=Add)


class Condition:
    """``z > 0`` for a symbol z: only good for :func:`chainrule.nn.formulas.where`."""

    def __init__(self, subject: Term) -> None:
        self.subject = subject

    def formula_where(self, if_true: Any, if_false: Any) -> Term:
        yes, no = lift(if_true), lift(if_false)
        value = None
        if self.subject.value is not None:
            value = yes.value if self.subject.value > 0 else no.value
        return Term(Cases(yes.expr, self.subject.expr, no.expr), value)

    def __bool__(self) -> bool:
        raise TypeError("a symbolic comparison has no truth value; use formulas.where(...)")


def lift(value: Any) -> Term:
    """A Term for ``value``: Terms pass through; a number in a formula becomes a constant."""
    if isinstance(value, Term):
        return value
    if isinstance(value, Ratio):
        expr: Expr = (
            Int(value.numerator)
            if value.denominator == 1
            else Frac(value.numerator, value.denominator)
        )
        return Term(expr, float(value), constant=True)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return Term(Int(int(value)), int(value), constant=True)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        return Term(Raw(format_number(number, 6), latex_number(number, 6)), number, constant=True)
    raise TypeError(f"a formula can use numbers and symbols, got {value!r}")


def last_step(term: Term) -> Expr:
    """The last operation of ``term`` applied to its operands' values:
    e^0.2 / (e^0.2 + e^0.5) -> 1.221 / 2.87."""
    if term.build is None or any(part.value is None for part in term.parts):
        raise ValueError(f"{term!r} has no last step with known values")
    operands = [part.expr if part.constant else Num(part.value) for part in term.parts]
    return term.build(*operands)


def _values(left: Term, right: Any, operation: Callable[[float, float], float]) -> float | None:
    right = lift(right)
    if left.value is None or right.value is None:
        return None
    return operation(left.value, right.value)


def _combine(build: Callable[..., Expr], left: Term, right: Term, value: float | None) -> Term:
    return Term(build(left.expr, right.expr), value, parts=(left, right), build=build)
