"""The forward pass, printed: z_l = W_l a_{l-1} + b_l and a_l = f_l(z_l), neuron by neuron.

Each activation's name, definition and (for a row-wise one) its entry formula come from its
own math description (``layer.math``); the numbers from the example's record.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.record import Block, Equation, ExampleState
from chainrule.explain.spec import ExplainSpec
from chainrule.explain.symbolic import Term, last_step
from chainrule.explain.symbols import Applied, sym_a, sym_z, vector, vector_name
from chainrule.nn.formulas import ActivationMath
from chainrule.reporting.expr import Add, Expr, Mul, Num, Raw


def passes_through(math: ActivationMath) -> bool:
    """Whether the activation is the identity, a = z (printed without a function)."""
    if math.function is None:
        return False
    z = Term(Raw("z", "z"))
    return math.function(z) is z


def pre_activation(a_prev: np.ndarray, W: np.ndarray, b: np.ndarray, j: int) -> Expr:
    """x[1]*W[j,1] + x[2]*W[j,2] + ... + b[j] with numbers (input first, as textbooks write)."""
    terms: list[Expr] = [Mul(Num(a_prev[k]), Num(W[j, k])) for k in range(len(a_prev))]
    return Add(*terms, Num(b[j]))


def forward_blocks(
    spec: ExplainSpec, W: list[np.ndarray], b: list[np.ndarray], example: ExampleState
) -> list[Block]:
    """One block per layer: its formulas, then every z and a with its arithmetic."""
    return [
        dense_forward_block(spec, W, b, example, number) for number in range(1, spec.n_layers + 1)
    ]


def dense_forward_block(
    spec: ExplainSpec, W: list[np.ndarray], b: list[np.ndarray], example: ExampleState, number: int
) -> Block:
    """Dense layer ``number``: z = W a + b and a = f(z), neuron by neuron (also the dense
    layers of a convolutional spec, whose ``widths`` count each layer's values)."""
    widths = spec.widths
    math = spec.layers[number - 1].math
    symbol = math.symbol
    a_prev = example.activation_input(number)
    z, a = example.z[number - 1], example.a[number - 1]
    prev_plain, prev_tex = vector_name(number - 1)
    block = Block(
        f"Layer {number}: {symbol.text}, {widths[number - 1]} input"
        f"{'s' * (widths[number - 1] != 1)} -> {widths[number]} neuron"
        f"{'s' * (widths[number] != 1)}"
    )
    sum_plain = f"Σ_k {prev_plain}[k]*W{number}[j,k] + b{number}[j]"
    sum_tex = f"\\sum_k {prev_tex}_k W^{{({number})}}_{{j,k}} + b^{{({number})}}_j"
    block.formulas.append(
        Raw(
            f"z{number} = W{number} {prev_plain} + b{number},  a{number} = "
            f"{symbol.text}(z{number})",
            f"z^{{({number})}} = W^{{({number})}} {prev_tex} + b^{{({number})}}, \\quad "
            f"a^{{({number})}} = {symbol.tex}(z^{{({number})}})",
        )
    )
    identity = passes_through(math)
    if not math.elementwise:
        entry = math.rowwise.entry_definition.format(z=vector("z", number))
        block.formulas.append(
            Raw(
                f"z{number}[j] = {sum_plain},  a{number}[j] = {entry.text}",
                f"z^{{({number})}}_j = {sum_tex}, \\quad a^{{({number})}}_j = {entry.tex}",
            )
        )
    elif identity:
        block.formulas.append(
            Raw(f"a{number}[j] = z{number}[j] = {sum_plain}", f"a^{{({number})}}_j = {sum_tex}")
        )
    else:
        block.formulas.append(
            Raw(
                f"a{number}[j] = {symbol.text}({sum_plain})",
                f"a^{{({number})}}_j = {symbol.tex}\\left({sum_tex}\\right)",
            )
        )
        block.notes.append(("where ", Raw(math.definition.text, math.definition.tex)))
    Wl, bl = W[number - 1], b[number - 1]
    for j in range(len(z)):
        pre = pre_activation(a_prev, Wl, bl, j)
        if identity:
            block.equations.append(Equation(sym_a(number, j + 1), [pre], a[j]))
        elif not math.elementwise:
            block.equations.append(Equation(sym_z(number, j + 1), [pre], z[j]))
        else:
            forms: list[Expr] = [Applied(symbol, pre), Applied(symbol, Num(z[j]))]
            block.equations.append(Equation(sym_a(number, j + 1), forms, a[j]))
    if not math.elementwise:
        entry_of = math.rowwise.entry
        symbols = [Term(sym_z(number, k + 1)) for k in range(len(z))]
        values = [Term.number(zk) for zk in z]
        for j in range(len(z)):
            with_numbers = entry_of(values, j)
            forms = [entry_of(symbols, j).expr, with_numbers.expr, last_step(with_numbers)]
            block.equations.append(Equation(sym_a(number, j + 1), forms, a[j]))
    return block
