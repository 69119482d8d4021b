"""How an activation, a loss, an optimizer or a layer describes its own math, beside its code.

Each component carries one description (``Sigmoid.math``, ``MeanSquaredError(...).math``,
``Adam.math``, ``Conv2D.math``) and everything that shows math reads it: ``chainrule derive``
(the vectorized equations), ``chainrule explain`` (the worked example, number by number), the
computation graphs' labels. A new activation, optimizer or layer is then one class in one
file: its code, its docstring, and its ``math``.

A description holds two kinds of thing:

* **formulas as Python functions**, element by element, in the math's own names::

      derivative=lambda z, a: a * (1 - a)          # σ'(z) from the output a = σ(z)

  Called with numbers they compute (the tests hold each one equal to the code it describes);
  called with the symbols of ``chainrule.explain`` they build the printed equation, with the
  same structure, first in symbols and then with the numbers substituted. Write them with
  ``+ - * / **``, comparisons with 0 through :func:`where`, and the functions of this module
  (:func:`exp`, :func:`log`, :func:`sqrt`, :func:`tanh`, :func:`total`); an exact fraction
  that should print as one is a :class:`Ratio`.
* **notation** for the places that print a formula in general form: TeX for the derivation
  (batch matrices, ``{z}``/``{a}`` for the matrix names, ``str.format`` style, so a literal
  TeX brace is doubled) and :class:`Notation` pairs (plain text and TeX) for the worked example.

Nothing here imports above ``chainrule.nn``: the symbols come in as arguments.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# -------------------------------------------------------------------------- the vocabulary


class Ratio(float):
    """An exact fraction in a formula: a float in the arithmetic, ``2/3`` when printed."""

    numerator: int
    denominator: int

    def __new__(cls, numerator: int, denominator: int) -> Ratio:
        value = super().__new__(cls, numerator / denominator)
        value.numerator, value.denominator = int(numerator), int(denominator)
        return value

    def __repr__(self) -> str:
        return f"Ratio({self.numerator}, {self.denominator})"


def exp(x: Any) -> Any:
    """e^x, of numbers (NumPy) or of symbols."""
    return _function("exp", np.exp, x)


def log(x: Any) -> Any:
    """The natural logarithm, of numbers (NumPy) or of symbols."""
    return _function("log", np.log, x)


def sqrt(x: Any) -> Any:
    """√x, of numbers (NumPy) or of symbols."""
    return _function("sqrt", np.sqrt, x)


def tanh(x: Any) -> Any:
    """tanh x, of numbers (NumPy) or of symbols."""
    return _function("tanh", np.tanh, x)


def where(condition: Any, if_true: Any, if_false: Any) -> Any:
    """``if_true`` where ``condition`` holds, else ``if_false``: ``where(z > 0, 1, 0)``.

    For numbers this is ``np.where``; a symbol compared with 0 builds the printed choice
    ``(1 if z > 0 else 0)``.
    """
    choose = getattr(condition, "formula_where", None)
    if choose is not None:
        return choose(if_true, if_false)
    return np.where(condition, if_true, if_false)


def total(terms: Any) -> Any:
    """The sum of ``terms`` (any iterable), printed as one sum when the terms are symbols."""
    terms = list(terms)
    if not terms:
        raise ValueError("total() needs at least one term")
    for term in terms:
        add_up = getattr(term, "formula_total", None)
        if add_up is not None:
            return add_up(terms)
    result = terms[0]
    for term in terms[1:]:
        result = result + term
    return result


def _function(name: str, numeric: Callable[[Any], Any], x: Any) -> Any:
    apply = getattr(x, "formula_function", None)
    return apply(name) if apply is not None else numeric(x)


def tex_number(value: float) -> str:
    """A number as TeX: 0.1, 0.9, ``10^{-8}``, ``2.5 \\times 10^{-5}``."""
    text = f"{value:g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \times {power}"


def literal(tex: str) -> str:
    """TeX to place inside a ``{z}``-style template as it is: its braces doubled."""
    return tex.replace("{", "{{").replace("}", "}}")


@dataclass(frozen=True)
class Notation:
    """One formula written twice: plain text for a terminal, TeX for a page."""

    text: str
    tex: str

    def format(self, **values: Any) -> Notation:
        """Fill ``{name}`` fields: a Notation value gives its text to the text and its TeX to
        the TeX; a number is written ``:g`` in text and with :func:`tex_number` in TeX."""

        def side(value: Any, tex: bool) -> Any:
            if isinstance(value, Notation):
                return value.tex if tex else value.text
            if isinstance(value, float):
                return tex_number(value) if tex else f"{value:g}"
            return value

        return Notation(
            self.text.format(**{k: side(v, False) for k, v in values.items()}),
            self.tex.format(**{k: side(v, True) for k, v in values.items()}),
        )


# -------------------------------------------------------------------------- activations


@dataclass(frozen=True)
class RowwiseMath:
    """What a row-wise activation (softmax) adds: each output depends on the whole row z."""

    #: a_j from the row z (a sequence) and the index j, element by element.
    entry: Callable[[Sequence[Any], int], Any]
    #: ∂a_i/∂z_j from a_i, a_j and whether i = j.
    jacobian: Callable[[Any, Any, bool], Any]
    #: a_j written out for the worked example; ``{z}`` is the row's name (z2, z^{(2)}).
    entry_definition: Notation
    #: The Jacobian of a batch row, TeX with ``{a}``: ``\operatorname{diag}(a) - a a^\top``.
    batch_jacobian: str
    #: δ = ∂L/∂Z from G = ∂L/∂A, TeX with ``{a}`` (G is written as G).
    batch_backward: str


@dataclass(frozen=True)
class ActivationMath:
    """An activation a = f(z): its formula and its derivative, for every place that shows them.

    ``derivative`` is f'(z) as the layer's backward computes it: from the output a wherever it
    can (σ' = a(1 - a)), so it takes both z and a. A row-wise activation (softmax) has
    ``rowwise`` instead of an element-wise ``derivative``.
    """

    #: In prose: "leaky ReLU".
    name: str
    #: f written as a function name: ``LeakyReLU`` / ``\operatorname{LeakyReLU}``.
    symbol: Notation
    #: a = f(z) for one element (numbers or symbols); ``lambda z: z`` for the identity.
    function: Callable[[Any], Any] | None
    #: f'(z) for one element, given z and a = f(z); None for a row-wise activation.
    derivative: Callable[[Any, Any], Any] | None
    #: "ReLU(z) = max(0, z)": the definition, as the worked example states it.
    definition: Notation
    #: "ReLU'(z) = 1 if z > 0 else 0": the derivative, as the worked example states it.
    derivative_definition: Notation
    #: A = f(Z) for a batch, TeX with ``{z}``: ``\max(0, {z})``.
    batch: str
    #: f'(Z) as an element-wise factor of δ, TeX with ``{z}`` and ``{a}``; None when there is
    #: no factor (f' = 1, or a row-wise activation).
    batch_derivative: str | None
    #: f' in one line of TeX, as the derivation quotes it: ``\sigma'(z) = a(1 - a)``.
    derivative_rule: str
    #: How the engine computes f', prose with ``$…$`` math ("from the output"); may be empty.
    derivative_note: str = ""
    rowwise: RowwiseMath | None = None

    @property
    def elementwise(self) -> bool:
        """Whether a_j depends on z_j alone (every activation but softmax)."""
        return self.rowwise is None


# -------------------------------------------------------------------------- losses


@dataclass(frozen=True)
class ExampleLoss:
    """A loss for one example of k outputs, written out for the worked example.

    ``value`` takes the example's outputs a and targets y (sequences of k); ``gradient``
    takes one output a_j, its target y_j and k, and gives ∂L/∂a_j. ``definition`` and
    ``gradient_definition`` take the name of the output (a Notation, ``a3`` / ``a^{(3)}``;
    for the gradient the element, ``a3[j]`` / ``a^{(3)}_j``) and k.
    """

    convention: Callable[[int], str]
    definition: Callable[[Notation, int], Notation]
    value: Callable[[Sequence[Any], Sequence[Any]], Any]
    gradient: Callable[[Any, Any, int], Any]
    gradient_definition: Callable[[Notation, int], Notation]


@dataclass(frozen=True)
class FusedLoss:
    """A loss taken together with its partner output activation: δ = ∂L/∂z directly.

    The batch forms are TeX with ``{a}`` (the activation's output), ``{z}`` (the logits) and
    ``{k}`` (outputs per example). ``delta`` gives δ_j from a_j, y_j and k; ``delta_definition``
    writes δ for the worked example given the output's name (``a2`` / ``a^{(2)}``) and k.
    """

    name: str  # "categorical cross-entropy, fused with the softmax"
    pair: str  # "softmax + CE", for graph labels
    value: str
    gradient: str
    note: str
    explanation: str  # why the product simplifies, prose for the worked example
    delta: Callable[[Any, Any, int], Any]
    delta_definition: Callable[[Notation, int], Notation]


@dataclass(frozen=True)
class LossMath:
    """A loss: its value and the gradient the backward pass starts from.

    The batch forms are TeX with ``{a}`` for the output (m × k), ``{k}`` and ``m`` as in the
    engine (every loss is a mean over the batch); ``note`` is prose with ``$…$`` math and may
    use ``{a}`` and ``{k}``.
    """

    name: str  # "mean squared error (reduction 'mean')"
    short_name: str  # "MSE (mean)", for graph labels
    value: str
    gradient: str  # ∂L/∂A
    note: str
    #: The same loss for one example, for the worked example (None: not written out).
    example: ExampleLoss | None = None
    #: The form taken with the partner activation (``Loss.fused_with``), if it has one.
    fused: FusedLoss | None = None


# -------------------------------------------------------------------------- optimizers

#: Quantities every update rule may use besides the hyperparameters and the state.
PARAMETER, GRADIENT, STEP = "θ", "g", "t"


@dataclass(frozen=True)
class UpdateRule:
    """One line of an update, element-wise: ``target ← compute(...)`` (or ``=``).

    ``compute`` names what it uses as its arguments: ``theta`` (the parameter θ), ``g`` (its
    gradient), ``t`` (the step count from 1), hyperparameters (``learning_rate``,
    ``momentum`` …) and the optimizer's state and earlier targets (``v``, ``m_hat`` …).
    ``target`` is ``"θ"`` for the parameter; ``x_hat`` prints as x̂.
    """

    target: str
    compute: Callable[..., Any]
    tex: str  # the right-hand side as the derivation writes it
    note: str = ""  # prose with $…$ math
    relation: str = "<-"  # "<-" an assignment, "=" a definition

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(inspect.signature(self.compute).parameters)

    @property
    def target_tex(self) -> str:
        if self.target == PARAMETER:
            return r"\theta"
        base, hat, _ = self.target.partition("_hat")
        return rf"\hat{{{base}}}" if hat else self.target

    def evaluate(self, quantities: dict[str, Any]) -> Any:
        """The rule applied to ``quantities`` (θ under ``"theta"``), numbers or symbols."""
        named = {"theta": PARAMETER}
        try:
            arguments = {name: quantities[named.get(name, name)] for name in self.inputs}
        except KeyError as error:
            raise ValueError(
                f"update rule for {self.target!r} uses {error.args[0]!r}, which is neither a "
                f"hyperparameter, a state nor an earlier target; known: {', '.join(quantities)}"
            ) from None
        return self.compute(**arguments)


@dataclass(frozen=True)
class OptimizerMath:
    """An optimizer's update rule, element-wise, in PyTorch's form.

    ``symbols`` maps each hyperparameter the rules use to its symbol (text for the worked
    example, TeX for the derivation), in the order they are quoted; ``state`` maps each state
    name the rules use to the optimizer attribute that holds it (zeros before the first step).
    ``worked`` are the lines the worked example prints as the rule, with ``{hyperparameter}``
    fields; an optimizer without them is shown by the derivation only.
    """

    name: str  # "SGD with momentum"
    short_name: str  # "momentum"
    symbols: dict[str, Notation]
    rules: tuple[UpdateRule, ...]
    state: dict[str, str] = field(default_factory=dict)
    worked: tuple[Notation, ...] = ()

    def step(self, quantities: dict[str, Any]) -> dict[str, Any]:
        """Apply every rule in order; return ``quantities`` with each target's new value."""
        values = dict(quantities)
        for rule in self.rules:
            values[rule.target] = rule.evaluate(values)
        return values


# -------------------------------------------------------------------------- other layers


@dataclass(frozen=True)
class LayerEquation:
    """One line of a layer's vectorized equations (batch form), as ``derive`` prints it.

    ``lhs``, ``rhs`` and ``note`` are ``str.format`` templates (a literal TeX brace doubled):
    their fields are the symbols the derivation gives this layer's tensors (``{x}`` its
    input, ``{out}`` its output, ``{dx}`` and ``{dout}`` their gradients, and the names the
    layer's ``LayerMath`` lists) and the numbers its ``values`` reads from the layer.
    ``shape`` is the field whose tensor has the value's shape. ``text`` is the same line in
    plain text and general symbols, for the layer's docstring. ``when`` names a flag the line
    needs (a key of ``values``, or ``input_grad``: the layer below needs dL/dx); ``node`` the
    parameter whose gradient this line is, for the computation graph's node of it.
    """

    lhs: str
    rhs: str
    text: str
    shape: str | None = None
    note: str = ""
    when: str | None = None
    node: str | None = None
    rel: str = "="


@dataclass(frozen=True)
class LayerMath:
    """A layer's forward and backward pass as equations on whole batches: Conv2D (im2col),
    pooling, BatchNorm, Flatten. Dense, Dropout and the activations are derived from their
    own descriptions (``ActivationMath``) and the engine's layout z = x W + b.

    ``tensors`` names the intermediate tensors the equations use besides the input and the
    output (``cols``: the im2col matrix X̂) with the TeX letter the derivation subscripts and
    what each is; ``edges`` gives the local derivative on each backward edge of the computation
    graph, keyed by the field the gradient flows to (``x``, a parameter, ``cols``), as TeX
    templates. ``values`` returns the numbers the templates use, read from the built layer.

    A layer chainrule does not know is derived and drawn from its ``math`` alone: its
    parameters are fields by their local names (``gamma``), its output is ``{out}``, and
    ``tensors`` may give their letters (``"gamma": (r"\\gamma", …)``, ``"out": ("S", …)``;
    the output is H without one).
    """

    name: str  # "2-D convolution, as im2col and a matrix product"
    forward: tuple[LayerEquation, ...]
    backward: tuple[LayerEquation, ...]
    edges: dict[str, str]
    values: Callable[[Any], dict[str, Any]]
    #: field -> (TeX letter, meaning as prose): ``{"cols": (r"\hat{X}", "the input, im2col")}``
    tensors: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: What the derivation says once about this layer's backward, prose with ``$…$`` math.
    note: str = ""


# -------------------------------------------------------------------------- docstrings


def docstring_section(math: ActivationMath | OptimizerMath | LayerMath) -> str:
    """The description as the lines a class docstring ends with, so that ``help(Sigmoid)``
    shows the very formulas ``derive`` and ``explain`` print (one source, never restated)."""
    if isinstance(math, ActivationMath):
        lines = [math.definition.text, math.derivative_definition.text]
    elif isinstance(math, LayerMath):
        lines = [
            "Forward:",
            *(f"  {row.text}" for row in math.forward),
            "Backward:",
            *(f"  {row.text}" for row in math.backward),
        ]
    elif math.worked:  # the worked example's plain-text lines read best in a docstring
        lines = [re.sub(r"\{(\w+)\}", r"<\1>", line.text) for line in math.worked]
    else:
        lines = [f"{rule.target} {rule.relation} {rule.tex}" for rule in math.rules]
    body = "\n".join(f"    {line}" for line in lines)
    readers = "derive and graph" if isinstance(math, LayerMath) else "derive and explain"
    return f"\n\nAs {readers} print it ({math.name}, from ``math``):\n\n{body}\n"


def add_math_to_docstring(cls: type) -> None:
    """Append :func:`docstring_section` of ``cls.math`` to ``cls.__doc__`` when the class
    itself sets ``math`` (a property that needs the instance's arguments is left alone)."""
    math = cls.__dict__.get("math")
    if isinstance(math, ActivationMath | OptimizerMath | LayerMath) and cls.__doc__ is not None:
        cls.__doc__ = inspect.cleandoc(cls.__doc__) + docstring_section(math)
