"""Chain-rule paths: every route from the loss down to one parameter, and their sum.

The network is a graph of scalar nodes: the loss L, each output a_L[i], each pre-activation
z_l[j], each activation a_l[i], and each parameter. An edge carries its local derivative:

    L      <- a_L[i]      dL/da_L[i]            (from the loss)
    a_l[i] <- z_l[j]      da_l[i]/dz_l[j]       f'(z_l[j]) when i = j for an element-wise f;
                                                a_l[i]([i = j] - a_l[j]) for softmax (all i)
    z_l[j] <- a_{l-1}[i]  dz_l[j]/da_{l-1}[i] = W_l[j, i]
    z_l[j] <- W_l[j, k]   dz_l[j]/dW_l[j, k]  = a_{l-1}[k];    z_l[j] <- b_l[j]: 1

The multivariate chain rule says dL/dθ is the sum, over every path from L to θ, of the product
of the local derivatives along it. When the output activation is fused with the loss
(sigmoid/softmax + cross-entropy), a path starts at dL/dz_L[j] = δ_L[j] instead.
A softmax layer is crossed through every one of its outputs, since its Jacobian is not diagonal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from chainrule.explain.record import Block, Equation, ExampleState, Section, StepRecord
from chainrule.explain.spec import ExplainSpec
from chainrule.explain.symbols import LOSS, sym_a, sym_b, sym_W, sym_z
from chainrule.reporting.expr import Add, Deriv, Eq, Expr, Frac, Int, Mul, Num, Raw, Sym

PARAMETER = re.compile(r"^\s*([Wb])(\d+)\s*\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]\s*$")

#: Agreement required between the sum of the paths and the backward pass's gradient.
PATH_TOLERANCE = 1e-10


@dataclass(frozen=True)
class Parameter:
    """One scalar parameter, textbook indices (1-based): W2[1,3] is kind W, layer 2, (1, 3)."""

    kind: str
    layer: int
    row: int
    column: int | None = None

    @property
    def name(self) -> str:
        index = f"{self.row},{self.column}" if self.kind == "W" else f"{self.row}"
        return f"{self.kind}{self.layer}[{index}]"

    @property
    def symbol(self) -> Expr:
        if self.kind == "W":
            return sym_W(self.layer, self.row, self.column)
        return sym_b(self.layer, self.row)


@dataclass(frozen=True)
class Factor:
    symbol: Expr
    value: float


@dataclass(frozen=True)
class Path:
    factors: tuple[Factor, ...]

    @property
    def product(self) -> float:
        return float(np.prod([factor.value for factor in self.factors]))


@dataclass
class PathSet:
    """All paths from L to ``parameter``, per example, and how their sum compares."""

    parameter: Parameter
    per_example: list[list[Path]]
    sums: list[float]
    total: float  # the mean over examples of the per-example sums
    gradient: float  # dL/dθ from the backward pass

    @property
    def difference(self) -> float:
        return abs(self.total - self.gradient)

    @property
    def agrees(self) -> bool:
        return self.difference <= PATH_TOLERANCE * max(1.0, abs(self.gradient))


def parse_parameter(text: str, spec: ExplainSpec) -> Parameter:
    """``"W1[1,1]"`` -> Parameter; errors name the layer count and the matrix's shape."""
    match = PARAMETER.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"--paths {text!r}: write a weight as W<layer>[<row>,<column>] (e.g. W1[1,1]: "
            "row = output neuron, column = input, counted from 1) or a bias as b<layer>[<row>]"
        )
    kind, layer, row = match.group(1), int(match.group(2)), int(match.group(3))
    column = match.group(4)
    n_layers = spec.n_layers
    if not 1 <= layer <= n_layers:
        raise ValueError(
            f"--paths {text}: the network has {n_layers} layer{'s' * (n_layers != 1)}, so "
            f"{kind}1 to {kind}{n_layers}; there is no {kind}{layer}"
        )
    rows, columns = spec.widths[layer], spec.widths[layer - 1]
    if kind == "W":
        if column is None:
            raise ValueError(
                f"--paths {text}: a weight needs two indices, W{layer}[row,column], e.g. "
                f"W{layer}[1,1]"
            )
        column = int(column)
        if not (1 <= row <= rows and 1 <= column <= columns):
            raise ValueError(
                f"--paths {text}: layer {layer}: W{layer} is {rows}×{columns} (rows = output "
                f"neurons 1..{rows}, columns = inputs 1..{columns}); [{row},{column}] is out of "
                "range"
            )
        return Parameter("W", layer, row, column)
    if column is not None:
        raise ValueError(f"--paths {text}: a bias has one index, b{layer}[row], e.g. b{layer}[1]")
    if not 1 <= row <= rows:
        raise ValueError(
            f"--paths {text}: layer {layer}: b{layer} has {rows} value{'s' * (rows != 1)} "
            f"(1..{rows}); [{row}] is out of range"
        )
    return Parameter("b", layer, row)


def paths_to_z(
    spec: ExplainSpec, W: list[np.ndarray], example: ExampleState, layer: int, j: int
) -> list[list[Factor]]:
    """Every path from L to z_layer[j] (0-based j), as factor lists from the loss down."""
    L = spec.n_layers
    if layer == L and spec.fused:
        return [[Factor(Deriv(LOSS, sym_z(L, j + 1)), float(example.delta[L - 1][j]))]]
    local = example.local[layer - 1]
    if local.ndim == 2:  # softmax: every output a[i] depends on z[j]
        outputs = range(local.shape[0])
        through = {i: float(local[i, j]) for i in outputs}
    else:
        through = {j: float(local[j])}
    result = []
    for i, derivative in through.items():
        step = Factor(Deriv(sym_a(layer, i + 1), sym_z(layer, j + 1)), derivative)
        for path in paths_to_a(spec, W, example, layer, i):
            result.append([*path, step])
    return result


def paths_to_a(
    spec: ExplainSpec, W: list[np.ndarray], example: ExampleState, layer: int, i: int
) -> list[list[Factor]]:
    """Every path from L to a_layer[i] (0-based i)."""
    if layer == spec.n_layers:
        return [[Factor(Deriv(LOSS, sym_a(layer, i + 1)), float(example.dL_da[layer - 1][i]))]]
    above = W[layer]  # W_{layer+1}, textbook (n_{layer+1}, n_layer)
    result = []
    for k in range(above.shape[0]):
        step = Factor(Deriv(sym_z(layer + 1, k + 1), sym_a(layer, i + 1)), float(above[k, i]))
        for path in paths_to_z(spec, W, example, layer + 1, k):
            result.append([*path, step])
    return result


def enumerate_paths(spec: ExplainSpec, step: StepRecord, parameter: Parameter) -> PathSet:
    """All chain-rule paths from L to ``parameter`` at ``step``, and their sums."""
    layer, j = parameter.layer, parameter.row - 1
    per_example, sums = [], []
    for example in step.examples:
        if parameter.kind == "W":
            last = Factor(
                Deriv(sym_z(layer, j + 1), parameter.symbol),
                float(example.activation_input(layer)[parameter.column - 1]),
            )
        else:
            last = Factor(Deriv(sym_z(layer, j + 1), parameter.symbol), 1.0)
        paths = [Path((*p, last)) for p in paths_to_z(spec, step.W, example, layer, j)]
        per_example.append(paths)
        sums.append(float(np.sum([p.product for p in paths])))
    if parameter.kind == "W":
        gradient = float(step.dW[layer - 1][j, parameter.column - 1])
    else:
        gradient = float(step.db[layer - 1][j])
    return PathSet(parameter, per_example, sums, float(np.mean(sums)), gradient)


def factor_number(factor: Factor) -> Expr:
    """The printed number of a factor: exact 1 and 0 as integers, others rounded."""
    if factor.value in (0.0, 1.0):
        return Int(int(factor.value))
    return Num(factor.value)


def path_label(index: int) -> Raw:
    return Raw(f"path {index}", f"\\text{{path {index}}}")


#: Paths printed per example and parameter; the sum always includes every path.
MAX_PRINTED_PATHS = 48


def paths_section(spec: ExplainSpec, path_sets: list[PathSet]) -> Section:
    """The printed form of ``path_sets``: each path's factors, product, and the sums."""
    section = Section("Chain-rule paths")
    for path_set in path_sets:
        section.blocks += _path_blocks(spec, path_set)
    return section


def _path_blocks(spec: ExplainSpec, path_set: PathSet) -> list[Block]:
    parameter = path_set.parameter
    gradient_symbol = Deriv(LOSS, parameter.symbol)
    m = len(path_set.per_example)
    blocks, sums = [], []
    # Row-wise activations (softmax) at or above the parameter's layer: paths fan out there.
    above = spec.layers[parameter.layer - 1 :]
    rowwise = [layer.math for layer in above if not layer.math.elementwise]
    for index, paths in enumerate(path_set.per_example, start=1):
        title = f"Paths from L to {parameter.name}"
        if m > 1:
            title += f", example {index} of {m}"
        block = Block(title)
        count = len(paths)
        block.notes.append(
            (
                f"{count} path{'s' * (count != 1)}; each is a product of local derivatives, "
                "from the loss down to the parameter, and ",
                gradient_symbol,
                " is their sum (the multivariate chain rule).",
            )
        )
        if spec.fused:
            block.notes.append(fused_note(spec))
        elif rowwise:
            block.notes.append(
                (
                    f"A {rowwise[0].name} layer's Jacobian is not diagonal: each of its z[j] "
                    "reaches the loss through every output a[i], one path each.",
                )
            )
        for number, path in enumerate(paths[:MAX_PRINTED_PATHS], start=1):
            block.equations.append(path_equation(number, path))
        if count > MAX_PRINTED_PATHS:
            block.notes.append(
                (f"... and {count - MAX_PRINTED_PATHS} more paths, not printed but summed.",)
            )
        lhs: Expr = gradient_symbol if m == 1 else example_sum(index)
        if count <= 8:
            labels: Expr = Add(*[path_label(n) for n in range(1, count + 1)])
        else:
            labels = Raw(
                f"path 1 + ... + path {count}",
                f"\\text{{path 1}} + \\dots + \\text{{path {count}}}",
            )
        forms = [labels]
        if 1 < count <= MAX_PRINTED_PATHS:
            forms.append(Add(*[Num(path.product) for path in paths]))
        sums.append(Equation(lhs, forms, path_set.sums[index - 1]))
        blocks.append(block)
    check = Block(f"Sum of the paths for {parameter.name}", equations=sums)
    if m > 1:
        check.equations.append(
            Equation(
                gradient_symbol,
                [
                    Mul(Frac(1, m), Add(*[example_sum(i) for i in range(1, m + 1)])),
                    Mul(Frac(1, m), Add(*[Num(value) for value in path_set.sums])),
                ],
                path_set.total,
            )
        )
    blocks += [check, comparison_block(path_set)]
    return blocks


def path_equation(number: int, path: Path) -> Equation:
    """``path n = factor symbols = factor numbers = product``."""
    return Equation(
        path_label(number),
        [
            Mul(*[factor.symbol for factor in path.factors], spaced=True),
            Mul(*[factor_number(factor) for factor in path.factors], spaced=True),
        ],
        path.product,
    )


def fused_note(spec: ExplainSpec) -> tuple:
    """Why the paths start at δ_L when the output activation is fused with the loss."""
    name = spec.layers[-1].activation_name
    return (
        f"The {name} output is fused with the cross-entropy, so paths start at ",
        Eq(Deriv(LOSS, Sym("z", spec.n_layers, ("j",))), Sym("δ", spec.n_layers, ("j",))),
        " (see the backward pass).",
    )


def comparison_block(path_set: PathSet) -> Block:
    """The sum of the paths against the backward pass's gradient."""
    gradient_symbol = Deriv(LOSS, path_set.parameter.symbol)
    verdict = "agrees with" if path_set.agrees else "DISAGREES with"
    compared = Block("Compared with the backward pass")
    compared.notes.append(
        (
            "The backward pass gave ",
            Eq(gradient_symbol, Num(path_set.gradient)),
            f"; the sum of the paths {verdict} it (|difference| = {path_set.difference:.1e}, "
            f"tolerance {PATH_TOLERANCE:.0e}).",
        )
    )
    return compared


def example_sum(index: int) -> Raw:
    return Raw(f"sum(example {index})", f"\\text{{sum(example {index})}}")
