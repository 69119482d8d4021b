"""A tiny expression tree that prints itself as terminal text or as LaTeX.

The worked example records every equation as expressions (``a1[1] = ReLU(0.3*0.1 + …)``)
rather than as strings, so one record renders in every format with the same structure and
with numbers rounded only at display time:

>>> line = Call("relu", Add(Mul(Num(0.3), Num(0.1)), Num(0.2)))
>>> line.render(Style("text", digits=4))
'ReLU(0.3*0.1 + 0.2)'
>>> line.render(Style("latex", digits=4))
'\\\\operatorname{ReLU}(0.3 \\\\cdot 0.1 + 0.2)'

Parentheses come from precedence (a sum inside a product, a negative number as a factor),
never from the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Binding strength: an operand binding more loosely than its context is parenthesized.
ADD, NEG, MUL, POW, ATOM = 1, 2, 3, 4, 5

#: Greek letters and friends: (terminal text, LaTeX).
SYMBOLS = {
    "δ": "\\delta",
    "η": "\\eta",
    "μ": "\\mu",
    "β1": "\\beta_1",
    "β2": "\\beta_2",
    "ε": "\\varepsilon",
    "Σ": "\\sum",
}


@dataclass(frozen=True)
class Style:
    """How to print: ``kind`` is ``"text"`` or ``"latex"``; ``digits`` significant digits."""

    kind: str = "text"
    digits: int = 4

    @property
    def latex(self) -> bool:
        return self.kind == "latex"


def format_number(value: float, digits: int) -> str:
    """``value`` with ``digits`` significant digits, no trailing zeros: 0.49, 1.2e-05, -3."""
    text = f"{float(value):.{digits}g}"
    if text in ("-0", "-0.0"):
        return "0"
    return text


def change_digits(new: float, old: float, digits: int) -> int:
    """Significant digits that show ``new`` so its change from ``old`` keeps ``digits`` digits.

    An update 0.1 -> 0.100004705 printed with 4 digits would read 0.1 -> 0.1; this gives 9.
    """
    change = abs(float(new) - float(old))
    if change == 0 or new == 0 or not math.isfinite(change):
        return digits
    shift = math.floor(math.log10(abs(new))) - math.floor(math.log10(change))
    return min(17, max(digits, digits + shift))


def latex_number(value: float, digits: int) -> str:
    """``format_number`` in LaTeX: ``1.2e-05`` becomes ``1.2 \\times 10^{-5}``."""
    text = format_number(value, digits)
    if text in ("inf", "-inf", "nan"):
        return {"inf": "\\infty", "-inf": "-\\infty", "nan": "\\mathrm{NaN}"}[text]
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else f"{mantissa} \\times {power}"


class Expr:
    """Base class; subclasses implement ``text`` and ``latex``."""

    precedence = ATOM

    def render(self, style: Style) -> str:
        return self.latex(style) if style.latex else self.text(style)

    def text(self, style: Style) -> str:
        raise NotImplementedError

    def latex(self, style: Style) -> str:
        raise NotImplementedError

    def operand(self, style: Style, context: int, strict: bool = False) -> str:
        """Render as an operand of an operator binding at ``context`` (parenthesize if looser)."""
        inner = self.render(style)
        looser = self.precedence < context or (strict and self.precedence == context)
        if not looser:
            return inner
        return f"\\left({inner}\\right)" if style.latex else f"({inner})"


@dataclass(frozen=True)
class Num(Expr):
    value: float

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return NEG if self.value < 0 else ATOM

    def text(self, style: Style) -> str:
        return format_number(self.value, style.digits)

    def latex(self, style: Style) -> str:
        return latex_number(self.value, style.digits)


@dataclass(frozen=True)
class Int(Expr):
    """An exact small integer (a count, a constant 2 or 1): never rounded."""

    value: int

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return NEG if self.value < 0 else ATOM

    def text(self, style: Style) -> str:
        return str(self.value)

    def latex(self, style: Style) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Sym(Expr):
    """A named quantity: ``Sym("a", 1, (2,))`` is a1[2] / a^{(1)}_{2}; ``Sym("x", None, (1,))``."""

    base: str
    layer: int | None = None
    index: tuple[int, ...] = ()

    def text(self, style: Style) -> str:
        layer = "" if self.layer is None else str(self.layer)
        index = f"[{','.join(map(str, self.index))}]" if self.index else ""
        return f"{self.base}{layer}{index}"

    def latex(self, style: Style) -> str:
        base = SYMBOLS.get(self.base, self.base)
        layer = "" if self.layer is None else f"^{{({self.layer})}}"
        index = f"_{{{','.join(map(str, self.index))}}}" if self.index else ""
        if "_" in base and index:  # β_1 with an index: wrap so the subscripts do not clash
            base = f"{{{base}}}"
        return f"{base}{layer}{index}"


@dataclass(frozen=True)
class Raw(Expr):
    """Literal notation given in both forms, e.g. the vector equation of a layer."""

    plain: str
    tex: str
    binding: int = ATOM

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return self.binding

    def text(self, style: Style) -> str:
        return self.plain

    def latex(self, style: Style) -> str:
        return self.tex


@dataclass(frozen=True)
class Deriv(Expr):
    """∂num/∂den, printed d·/d· in text: ``dL/da3[1]``, ``da3[1]/dz3[2]``."""

    num: Expr
    den: Expr

    def text(self, style: Style) -> str:
        return f"d{self.num.text(style)}/d{self.den.text(style)}"

    def latex(self, style: Style) -> str:
        return f"\\frac{{\\partial {self.num.latex(style)}}}{{\\partial {self.den.latex(style)}}}"


@dataclass(frozen=True)
class State(Expr):
    """An optimizer's per-parameter state: ``v(W1[1,1])``, ``m_hat(W1[1,1])`` (m̂ in LaTeX)."""

    name: str
    param: Expr
    hat: bool = False

    def text(self, style: Style) -> str:
        return f"{self.name}{'_hat' if self.hat else ''}({self.param.text(style)})"

    def latex(self, style: Style) -> str:
        name = f"\\hat{{{self.name}}}" if self.hat else self.name
        return f"{name}[{self.param.latex(style)}]"


@dataclass(frozen=True)
class Frac(Expr):
    """An exact ratio of integers shown as such: (2/2), (1/3)."""

    num: int
    den: int

    def text(self, style: Style) -> str:
        return f"({self.num}/{self.den})"

    def latex(self, style: Style) -> str:
        return f"\\frac{{{self.num}}}{{{self.den}}}"


@dataclass(frozen=True)
class BatchMean(Expr):
    """The mean over the examples of a batch: (1/m) Σ_examples body."""

    body: Expr

    precedence = MUL

    def text(self, style: Style) -> str:
        return f"(1/m) Σ_examples {self.body.operand(style, MUL)}"

    def latex(self, style: Style) -> str:
        return f"\\frac{{1}}{{m}} \\sum_{{\\text{{examples}}}} {self.body.operand(style, MUL)}"


class Add(Expr):
    """A sum; a negative term prints as ``- term``."""

    def __init__(self, *terms: Expr) -> None:
        if not terms:
            raise ValueError("Add needs at least one term")
        self.terms = terms

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return self.terms[0].precedence if len(self.terms) == 1 else ADD

    def _render(self, style: Style) -> str:
        parts = [self.terms[0].operand(style, ADD)]
        for term in self.terms[1:]:
            if isinstance(term, Neg):
                parts.append(f"- {term.arg.operand(style, MUL)}")
            elif isinstance(term, Num) and term.precedence == NEG:
                parts.append(f"- {Num(-term.value).render(style)}")
            elif isinstance(term, Int) and term.value < 0:
                parts.append(f"- {-term.value}")
            else:
                parts.append(f"+ {term.operand(style, ADD)}")
        return " ".join(parts)

    def text(self, style: Style) -> str:
        return self._render(style)

    def latex(self, style: Style) -> str:
        return self._render(style)


class Sub(Expr):
    """a - b (b parenthesized when it is a sum or negative: ``0.05 - (-0.2)``, never ``- -``)."""

    precedence = ADD

    def __init__(self, left: Expr, right: Expr) -> None:
        self.left, self.right = left, right

    def _render(self, style: Style) -> str:
        return f"{self.left.operand(style, ADD)} - {self.right.operand(style, NEG, strict=True)}"

    def text(self, style: Style) -> str:
        return self._render(style)

    def latex(self, style: Style) -> str:
        return self._render(style)


class Mul(Expr):
    """A product: ``*`` in text (`` * `` when ``spaced``), ``\\cdot`` in LaTeX."""

    precedence = MUL

    def __init__(self, *factors: Expr, spaced: bool = False) -> None:
        if not factors:
            raise ValueError("Mul needs at least one factor")
        self.factors = factors
        self.spaced = spaced

    def text(self, style: Style) -> str:
        return (" * " if self.spaced else "*").join(f.operand(style, MUL) for f in self.factors)

    def latex(self, style: Style) -> str:
        return " \\cdot ".join(f.operand(style, MUL) for f in self.factors)


class Div(Expr):
    """a / b in text (b parenthesized unless atomic), \\frac{a}{b} in LaTeX."""

    precedence = MUL

    def __init__(self, num: Expr, den: Expr) -> None:
        self.num, self.den = num, den

    def text(self, style: Style) -> str:
        return f"{self.num.operand(style, MUL)} / {self.den.operand(style, MUL, strict=True)}"

    def latex(self, style: Style) -> str:
        return f"\\frac{{{self.num.latex(style)}}}{{{self.den.latex(style)}}}"


class Neg(Expr):
    """-x."""

    precedence = NEG

    def __init__(self, arg: Expr) -> None:
        self.arg = arg

    def text(self, style: Style) -> str:
        return f"-{self.arg.operand(style, MUL)}"

    def latex(self, style: Style) -> str:
        return f"-{self.arg.operand(style, MUL)}"


class Pow(Expr):
    """base^exponent."""

    precedence = POW

    def __init__(self, base: Expr, exponent: Expr) -> None:
        self.base, self.exponent = base, exponent

    def text(self, style: Style) -> str:
        return f"{self.base.operand(style, ATOM)}^{self.exponent.operand(style, ATOM)}"

    def latex(self, style: Style) -> str:
        return f"{{{self.base.operand(style, ATOM)}}}^{{{self.exponent.latex(style)}}}"


#: Function names: (text, LaTeX). ``exp`` prints as e^{…} in LaTeX.
FUNCTIONS = {
    "identity": ("identity", "\\operatorname{id}"),
    "relu": ("ReLU", "\\operatorname{ReLU}"),
    "leaky_relu": ("LeakyReLU", "\\operatorname{LeakyReLU}"),
    "sigmoid": ("sigmoid", "\\sigma"),
    "tanh": ("tanh", "\\tanh"),
    "improved_sigmoid": ("isig", "\\operatorname{isig}"),
    "softmax": ("softmax", "\\operatorname{softmax}"),
    "exp": ("exp", "\\exp"),
    "log": ("log", "\\log"),
    "sqrt": ("sqrt", "\\sqrt"),
}


class Call(Expr):
    """f(arg); ``prime=True`` gives the derivative f'(arg)."""

    def __init__(self, function: str, arg: Expr, prime: bool = False) -> None:
        if function not in FUNCTIONS:
            raise ValueError(f"no printed name for function {function!r}")
        self.function, self.arg, self.prime = function, arg, prime

    def text(self, style: Style) -> str:
        name = FUNCTIONS[self.function][0] + ("'" if self.prime else "")
        return f"{name}({self.arg.text(style)})"

    def latex(self, style: Style) -> str:
        if self.function == "exp" and not self.prime:
            return f"e^{{{self.arg.latex(style)}}}"
        if self.function == "sqrt" and not self.prime:
            return f"\\sqrt{{{self.arg.latex(style)}}}"
        name = FUNCTIONS[self.function][1] + ("'" if self.prime else "")
        return f"{name}\\left({self.arg.latex(style)}\\right)"


class Cases(Expr):
    """``(1 if 0.49 > 0 else 0)``: a two-way choice on a comparison with zero."""

    def __init__(self, if_true: Expr, subject: Expr, if_false: Expr) -> None:
        self.if_true, self.subject, self.if_false = if_true, subject, if_false

    def text(self, style: Style) -> str:
        return (
            f"({self.if_true.text(style)} if {self.subject.text(style)} > 0 "
            f"else {self.if_false.text(style)})"
        )

    def latex(self, style: Style) -> str:
        return (
            f"\\left({self.if_true.latex(style)} \\text{{ if }} {self.subject.latex(style)} > 0"
            f" \\text{{ else }} {self.if_false.latex(style)}\\right)"
        )


class Eq(Expr):
    """left = right (= more): an equation used inline in prose."""

    precedence = ADD

    def __init__(self, *sides: Expr) -> None:
        self.sides = sides

    def text(self, style: Style) -> str:
        return " = ".join(side.text(style) for side in self.sides)

    def latex(self, style: Style) -> str:
        return " = ".join(side.latex(style) for side in self.sides)
