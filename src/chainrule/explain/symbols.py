"""The worked example's symbols: a1[2], z3[1], W2[1,3], δ2[1], L, and the functions f, f'.

Textbook indexing, 1-based: ``sym_W(2, 1, 3)`` is W2[1,3] (to neuron 1 of layer 2 from input
3), printed ``W^{(2)}_{1,3}`` in LaTeX. A function's printed name comes from the component's
own math description (``ActivationMath.symbol``), never from a table here.
"""

from __future__ import annotations

from chainrule.nn.formulas import PARAMETER, Notation
from chainrule.reporting.expr import SYMBOLS, Expr, Raw, State, Style, Sym

LOSS = Raw("L", "L")


def sym_a(layer: int, j: int) -> Sym:
    """a_layer[j], or x[j] for layer 0."""
    return Sym("x", None, (j,)) if layer == 0 else Sym("a", layer, (j,))


def sym_z(layer: int, j: int) -> Sym:
    return Sym("z", layer, (j,))


def sym_W(layer: int, j: int, k: int) -> Sym:
    return Sym("W", layer, (j, k))


def sym_b(layer: int, j: int) -> Sym:
    return Sym("b", layer, (j,))


def sym_y(j: int) -> Sym:
    return Sym("y", None, (j,))


def sym_delta(layer: int, j: int) -> Sym:
    return Sym("δ", layer, (j,))


def vector_name(layer: int) -> tuple[str, str]:
    """('x', 'x') for layer 0, ('a1', 'a^{(1)}') otherwise."""
    return ("x", "x") if layer == 0 else (f"a{layer}", f"a^{{({layer})}}")


def vector(name: str, layer: int) -> Notation:
    """A layer's vector as text and TeX: ``vector("a", 3)`` is a3 / a^{(3)}."""
    return Notation(f"{name}{layer}", f"{name}^{{({layer})}}")


class Applied(Expr):
    """f(arg), or f'(arg) with ``prime``, for a function named by its math description."""

    def __init__(self, symbol: Notation, arg: Expr, prime: bool = False) -> None:
        self.symbol, self.arg, self.prime = symbol, arg, prime

    def text(self, style: Style) -> str:
        return f"{self.symbol.text}{self._mark}({self.arg.text(style)})"

    def latex(self, style: Style) -> str:
        return f"{self.symbol.tex}{self._mark}\\left({self.arg.latex(style)}\\right)"

    @property
    def _mark(self) -> str:
        return "'" if self.prime else ""


def hyperparameter(symbol: Notation) -> Expr:
    """A hyperparameter's symbol: η, β1 … (in LaTeX as the expression printer writes them,
    ``\\varepsilon`` for ε; otherwise the description's own TeX)."""
    return Raw(symbol.text, SYMBOLS.get(symbol.text, symbol.tex))


def quantity(name: str, theta: Expr) -> Expr:
    """A quantity of an update rule for the parameter ``theta``: θ itself, or its state
    ``v(θ)``; ``m_hat`` is m̂(θ)."""
    if name == PARAMETER:
        return theta
    base, hat, _ = name.partition("_hat")
    return State(base, theta, hat=bool(hat))


# -- convolutional specs: feature maps and kernels -------------------------------------------
def sym_map(base: str, layer: int, index: tuple[int, ...]) -> Sym:
    """An entry of a feature map or kernel, 1-based: ``sym_map("z", 1, (1, 2, 3))`` is
    z1[1,2,3] (filter 1, row 2, column 3); layer 0 of ``a`` is the image x[c,i,j]."""
    if base == "a" and layer == 0:
        return Sym("x", None, index)
    return Sym(base, layer, index)


def map_name(layer: int) -> tuple[str, str]:
    """The input of layer ``layer + 1`` as text and TeX: ('x', 'x') or ('a2', 'a^{(2)}')."""
    return vector_name(layer)


class Padded(Expr):
    """An entry of a zero-padded input, 1-based in the padded map: pad(x)[1,1,1]."""

    def __init__(self, layer: int, index: tuple[int, ...]) -> None:
        self.layer, self.index = layer, index

    def text(self, style: Style) -> str:
        name = map_name(self.layer)[0]
        return f"pad({name})[{','.join(map(str, self.index))}]"

    def latex(self, style: Style) -> str:
        base = "\\tilde{x}" if self.layer == 0 else f"\\tilde{{a}}^{{({self.layer})}}"
        return f"{base}_{{{','.join(map(str, self.index))}}}"


class MaxOf(Expr):
    """max(e1, e2, ...): a max-pooling window."""

    def __init__(self, *args: Expr) -> None:
        self.args = args

    def text(self, style: Style) -> str:
        return f"max({', '.join(arg.text(style) for arg in self.args)})"

    def latex(self, style: Style) -> str:
        return f"\\max\\left({', '.join(arg.latex(style) for arg in self.args)}\\right)"
