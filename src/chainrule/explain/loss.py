"""The loss, printed: its convention, its value per example, and where the backward pass starts.

Everything here is read from the loss's own math description (``loss.math.example`` and, when
the output activation is fused with the loss, ``loss.math.fused``): the convention sentence,
the per-example formula, dL/da_L[j] (or δ_L[j] = dL/dz_L[j] when fused), each written first in
symbols and then with the example's numbers.
"""

from __future__ import annotations

from chainrule.explain.record import Block, Equation, ExampleState, Section
from chainrule.explain.spec import ExplainSpec
from chainrule.explain.symbolic import Term
from chainrule.explain.symbols import LOSS, sym_a, sym_delta, sym_y, vector
from chainrule.nn.formulas import ExampleLoss, FusedLoss, Notation
from chainrule.nn.losses import get_loss
from chainrule.reporting.expr import Deriv, Expr, Raw, Sym


def example_loss(spec: ExplainSpec) -> ExampleLoss:
    """The spec's loss for one example, as its class describes it."""
    description = get_loss(spec.loss.engine_config()).math
    if description is None or description.example is None:
        raise ValueError(f"the loss {spec.loss.name!r} has no per-example math description")
    return description.example


def fused_loss(spec: ExplainSpec) -> FusedLoss:
    """The spec's loss taken together with the output activation (when ``spec.fused``)."""
    description = get_loss(spec.loss.engine_config()).math
    if description is None or description.fused is None:
        raise ValueError(f"the loss {spec.loss.name!r} has no fused form")
    return description.fused


def loss_convention(spec: ExplainSpec) -> tuple[str, Raw]:
    """A sentence naming the convention, and the per-example formula."""
    k, L = spec.widths[-1], spec.n_layers
    loss = example_loss(spec)
    sentence = loss.convention(k)
    if spec.n_examples > 1:
        sentence += f"; the batch loss is the mean over the {spec.n_examples} examples"
    formula = loss.definition(vector("a", L), k)
    return sentence, Raw(formula.text, formula.tex)


def loss_equation(spec: ExplainSpec, example: ExampleState, lhs: Expr) -> Equation:
    """L_i = the loss's formula in symbols = with the example's numbers = its value."""
    L = spec.n_layers
    value = example_loss(spec).value
    k = spec.widths[-1]
    symbolic = value(
        [Term(sym_a(L, j + 1)) for j in range(k)], [Term(sym_y(j + 1)) for j in range(k)]
    )
    numeric = value([Term.number(a) for a in example.a[-1]], [Term.number(y) for y in example.y])
    return Equation(lhs, [symbolic.expr, numeric.expr], example.loss)


def output_gradient_formula(spec: ExplainSpec) -> Raw:
    """dL/da_L[j] in general form."""
    L, k = spec.n_layers, spec.widths[-1]
    a = Notation(f"a{L}[j]", f"a^{{({L})}}_j")
    rhs = example_loss(spec).gradient_definition(a, k)
    return Raw(
        f"dL/d{a.text} = {rhs.text}", f"\\frac{{\\partial L}}{{\\partial {a.tex}}} = {rhs.tex}"
    )


def output_gradient_equation(spec: ExplainSpec, example: ExampleState, j: int) -> Equation:
    """dL/da_L[j] for output j (0-based), in symbols and in numbers."""
    L, k = spec.n_layers, spec.widths[-1]
    gradient = example_loss(spec).gradient
    a_s, y_s = sym_a(L, j + 1), sym_y(j + 1)
    symbolic = gradient(Term(a_s), Term(y_s), k)
    numeric = gradient(Term.number(example.a[-1][j]), Term.number(example.y[j]), k)
    return Equation(Deriv(LOSS, a_s), [symbolic.expr, numeric.expr], example.dL_da[-1][j])


def fused_output_delta(spec: ExplainSpec, example: ExampleState, block: Block) -> None:
    """Fill ``block`` with δ_L = dL/dz_L of the fused output: the formula, why, the numbers."""
    L, k = spec.n_layers, spec.widths[-1]
    fused = fused_loss(spec)
    rhs = fused.delta_definition(vector("a", L), k)
    block.formulas.append(
        Raw(
            f"δ{L} = dL/dz{L} = {rhs.text}",
            f"\\delta^{{({L})}} = \\frac{{\\partial L}}{{\\partial z^{{({L})}}}} = {rhs.tex}",
        )
    )
    block.notes.append(
        (
            f"{fused.explanation} Set fuse: false in the spec to see dL/da and the activation's "
            "derivative separately.",
        )
    )
    for j in range(spec.widths[L]):
        symbolic = fused.delta(Term(sym_a(L, j + 1)), Term(sym_y(j + 1)), k)
        numeric = fused.delta(Term.number(example.a[-1][j]), Term.number(example.y[j]), k)
        block.equations.append(
            Equation(sym_delta(L, j + 1), [symbolic.expr, numeric.expr], example.delta[L - 1][j])
        )


def loss_values(spec: ExplainSpec, examples: list[ExampleState]) -> Section:
    """The Loss section: the convention, then each example's loss in symbols and numbers
    (a batch's mean is added by the caller)."""
    m = len(examples)
    section = Section("Loss")
    sentence, formula = loss_convention(spec)
    section.blocks.append(Block("Convention", formulas=[formula], notes=[(sentence + ".",)]))
    for index, example in enumerate(examples, start=1):
        lhs = Sym("L", None, (index,)) if m > 1 else LOSS
        block = Block(f"Example {index}" if m > 1 else "Value")
        block.equations.append(loss_equation(spec, example, lhs))
        section.blocks.append(block)
    return section
