"""The backward pass, printed: dL/da_l, f_l'(z_l), δ_l, and the gradients of W_l and b_l.

    output layer L:  δ_L = dL/da_L ⊙ f_L'(z_L)        (fused sigmoid/softmax + CE: a_L - y)
    hidden layer l:  dL/da_l = W_{l+1}ᵀ δ_{l+1},   δ_l = dL/da_l ⊙ f_l'(z_l)
                     (row-wise f: δ_l[j] = Σ_i dL/da_l[i] · da_l[i]/dz_l[j])
    gradients:       dL/dW_l[j, k] = δ_l[j] · a_{l-1}[k],    dL/db_l[j] = δ_l[j]

Each activation's derivative (its formula line, and each f'(z) written in symbols and then in
numbers) comes from its own math description; the loss's part from ``explain.loss``.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.loss import (
    fused_output_delta,
    output_gradient_equation,
    output_gradient_formula,
)
from chainrule.explain.record import Block, Equation, ExampleState
from chainrule.explain.spec import ExplainSpec
from chainrule.explain.symbolic import Term
from chainrule.explain.symbols import (
    LOSS,
    Applied,
    sym_a,
    sym_b,
    sym_delta,
    sym_W,
    sym_z,
    vector_name,
)
from chainrule.reporting.expr import Add, BatchMean, Deriv, Expr, Frac, Mul, Num, Raw


def local_equation(spec: ExplainSpec, number: int, example: ExampleState, j: int) -> Equation:
    """f'(z_number[j]) = the activation's derivative in symbols = in numbers = its value."""
    math = spec.layers[number - 1].math
    value = example.local[number - 1][j]
    lhs = Applied(math.symbol, sym_z(number, j + 1), prime=True)
    symbolic = math.derivative(Term(sym_z(number, j + 1)), Term(sym_a(number, j + 1)))
    if not isinstance(symbolic, Term):  # a constant derivative (the identity's 1): no formula
        return Equation(lhs, [], value)
    numeric = math.derivative(
        Term.number(example.z[number - 1][j]), Term.number(example.a[number - 1][j])
    )
    return Equation(lhs, [symbolic.expr, numeric.expr], value)


def jacobian_equation(
    spec: ExplainSpec, number: int, example: ExampleState, i: int, j: int
) -> Equation:
    """da_number[i]/dz_number[j] of a row-wise activation, from its math description."""
    jacobian = spec.layers[number - 1].math.rowwise.jacobian
    a = example.a[number - 1]
    symbolic = jacobian(Term(sym_a(number, i + 1)), Term(sym_a(number, j + 1)), i == j)
    numeric = jacobian(Term.number(a[i]), Term.number(a[j]), i == j)
    lhs = Deriv(sym_a(number, i + 1), sym_z(number, j + 1))
    return Equation(lhs, [symbolic.expr, numeric.expr], example.local[number - 1][i, j])


def backward_blocks(spec: ExplainSpec, W: list[np.ndarray], example: ExampleState) -> list[Block]:
    """One block per layer, output first: dL/da, the local derivatives, the deltas."""
    return [
        dense_backward_block(spec, W, example, number) for number in range(spec.n_layers, 0, -1)
    ]


def dense_backward_block(
    spec: ExplainSpec, W: list[np.ndarray], example: ExampleState, number: int
) -> Block:
    """Dense layer ``number``: dL/da (from the loss, or W_{l+1}ᵀ δ_{l+1}), f'(z) and δ."""
    L = spec.n_layers
    i = number - 1
    math = spec.layers[i].math
    fn, fn_tex = math.symbol.text, math.symbol.tex
    where = "output layer" if number == L else "hidden layer"
    block = Block(f"Layer {number} ({where}, {fn})")
    width = spec.widths[number]
    if number == L and spec.fused:
        fused_output_delta(spec, example, block)
        return block
    # dL/da
    if number == L:
        block.formulas.append(output_gradient_formula(spec))
        for j in range(width):
            block.equations.append(output_gradient_equation(spec, example, j))
    else:
        upstream_gradient(W, example, number, width, block)
    # local derivatives and deltas
    derivative = math.derivative_definition
    block.formulas.append(Raw(derivative.text, derivative.tex))
    if not math.elementwise:
        block.formulas.append(
            Raw(
                f"δ{number}[j] = Σ_i dL/da{number}[i]*da{number}[i]/dz{number}[j]",
                f"\\delta^{{({number})}}_j = \\sum_i \\frac{{\\partial L}}{{\\partial "
                f"a^{{({number})}}_i}} \\frac{{\\partial a^{{({number})}}_i}}{{\\partial "
                f"z^{{({number})}}_j}}",
            )
        )
        for r in range(width):
            for j in range(width):
                block.equations.append(jacobian_equation(spec, number, example, r, j))
        for j in range(width):
            block.equations.append(
                Equation(
                    sym_delta(number, j + 1),
                    [
                        Add(
                            *[
                                Mul(
                                    Deriv(LOSS, sym_a(number, r + 1)),
                                    Deriv(sym_a(number, r + 1), sym_z(number, j + 1)),
                                )
                                for r in range(width)
                            ]
                        ),
                        Add(
                            *[
                                Mul(Num(example.dL_da[i][r]), Num(example.local[i][r, j]))
                                for r in range(width)
                            ]
                        ),
                    ],
                    example.delta[i][j],
                )
            )
    else:
        block.formulas.append(
            Raw(
                f"δ{number}[j] = dL/da{number}[j]*{fn}'(z{number}[j])",
                f"\\delta^{{({number})}}_j = \\frac{{\\partial L}}{{\\partial "
                f"a^{{({number})}}_j}} \\, {fn_tex}'(z^{{({number})}}_j)",
            )
        )
        for j in range(width):
            block.equations.append(local_equation(spec, number, example, j))
        for j in range(width):
            block.equations.append(
                Equation(
                    sym_delta(number, j + 1),
                    [
                        Mul(
                            Deriv(LOSS, sym_a(number, j + 1)),
                            Applied(math.symbol, sym_z(number, j + 1), prime=True),
                        ),
                        Mul(Num(example.dL_da[i][j]), Num(example.local[i][j])),
                    ],
                    example.delta[i][j],
                )
            )
    return block


def upstream_gradient(
    W: list[np.ndarray], example: ExampleState, number: int, width: int, block: Block
) -> None:
    """dL/da_number[j] = Σ_k W_{number+1}[k,j] δ_{number+1}[k]: formula and each entry, for
    a layer below a dense one (a hidden dense layer, or a flatten layer)."""
    i = number - 1
    block.formulas.append(
        Raw(
            f"dL/da{number}[j] = Σ_k W{number + 1}[k,j]*δ{number + 1}[k]   "
            f"(dL/da{number} = W{number + 1}^T δ{number + 1})",
            f"\\frac{{\\partial L}}{{\\partial a^{{({number})}}_j}} = \\sum_k "
            f"W^{{({number + 1})}}_{{k,j}} \\delta^{{({number + 1})}}_k",
        )
    )
    above = W[number]
    for j in range(width):
        terms = range(above.shape[0])
        block.equations.append(
            Equation(
                Deriv(LOSS, sym_a(number, j + 1)),
                [
                    Add(
                        *[
                            Mul(sym_W(number + 1, r + 1, j + 1), sym_delta(number + 1, r + 1))
                            for r in terms
                        ]
                    ),
                    Add(*[Mul(Num(above[r, j]), Num(example.delta[number][r])) for r in terms]),
                ],
                example.dL_da[i][j],
            )
        )


def gradient_blocks(
    spec: ExplainSpec, examples: list[ExampleState], dW: list[np.ndarray], db: list[np.ndarray]
) -> list[Block]:
    """dL/dW_l[j,k] = δ_l[j] a_{l-1}[k] and dL/db_l[j] = δ_l[j], averaged over the batch."""
    return [
        dense_gradient_block(spec, examples, dW, db, number)
        for number in range(spec.n_layers, 0, -1)
    ]


def dense_gradient_block(
    spec: ExplainSpec,
    examples: list[ExampleState],
    dW: list[np.ndarray],
    db: list[np.ndarray],
    number: int,
) -> Block:
    """Dense layer ``number``: each dL/dW[j,k] = δ[j] a_{l-1}[k] and dL/db[j] = δ[j]."""
    m = len(examples)
    i = number - 1
    prev_plain, prev_tex = vector_name(number - 1)
    block = Block(f"Layer {number}")
    mean_plain = "(1/m) Σ_examples " if m > 1 else ""
    mean_tex = "\\frac{1}{m}\\sum_{\\text{examples}} " if m > 1 else ""
    block.formulas.append(
        Raw(
            f"dL/dW{number}[j,k] = {mean_plain}δ{number}[j]*{prev_plain}[k]   "
            f"(dL/dW{number} = δ{number} {prev_plain}^T),   dL/db{number}[j] = "
            f"{mean_plain}δ{number}[j]",
            f"\\frac{{\\partial L}}{{\\partial W^{{({number})}}_{{j,k}}}} = {mean_tex}"
            f"\\delta^{{({number})}}_j {prev_tex}_k, \\quad \\frac{{\\partial L}}{{\\partial "
            f"b^{{({number})}}_j}} = {mean_tex}\\delta^{{({number})}}_j",
        )
    )
    frozen = [name for name in (f"W{number}", f"b{number}") if not spec.trainable(name)]
    if frozen:
        block.notes.append(
            (
                f"{' and '.join(frozen)} frozen: "
                + (
                    "gradients shown, but no update uses them."
                    if len(frozen) > 1
                    else "gradient shown, but no update uses it."
                ),
            )
        )
    rows, columns = dW[i].shape
    for j in range(rows):
        for k in range(columns):
            symbolic = Mul(sym_delta(number, j + 1), sym_a(number - 1, k + 1))
            products = [
                Mul(Num(e.delta[i][j]), Num(e.activation_input(number)[k])) for e in examples
            ]
            forms: list[Expr] = [symbolic, products[0]]
            if m > 1:
                forms = [BatchMean(symbolic), Mul(Frac(1, m), Add(*products))]
            block.equations.append(
                Equation(Deriv(LOSS, sym_W(number, j + 1, k + 1)), forms, dW[i][j, k])
            )
    for j in range(rows):
        forms: list[Expr] = [sym_delta(number, j + 1)]
        if m > 1:
            forms = [BatchMean(sym_delta(number, j + 1))]
            forms.append(Mul(Frac(1, m), Add(*[Num(e.delta[i][j]) for e in examples])))
        block.equations.append(Equation(Deriv(LOSS, sym_b(number, j + 1)), forms, db[i][j]))
    return block
