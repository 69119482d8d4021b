"""Chain-rule paths in a convolutional spec: every route from the loss to one parameter.

A kernel weight W_l[o,c,p,q] is shared: it touches every output pixel z_l[o,i,j] of its
filter, with local derivative dz_l[o,i,j]/dW_l[o,c,p,q] = a_{l-1}[c, s(i-1)+p, s(j-1)+q]
(the input under that kernel entry, 0 in the padding). From each pixel the paths go up:

    a_l[o,i,j]  <- z_l[o,i,j]        f'(z_l[o,i,j])                (the conv's activation)
    a_{l+1}[c,i',j'] <- a_l[c,y,x]   1 if (y,x) is the window's chosen maximum, else 0;
                                     1/P for average pooling
    a_{l+1}[k]  <- a_l[c,y,x]        1 (flatten: entry k is that map entry)
    z_{l+1}[o',i',j'] <- a_l[c,y,x]  W_{l+1}[o',c,p',q'] (a convolution above)
    z_{l+1}[k]  <- a_l[k']           W_{l+1}[k,k'] (dense layers: ``paths``)

A path through a max-pooling entry that is not its window's maximum has the factor 0; those
pixels are named, and their paths (all 0) not listed. dL/dθ is the sum over all paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from chainrule.explain import paths as dense_paths
from chainrule.explain.conv_steps import Geometry, _index
from chainrule.explain.paths import (
    MAX_PRINTED_PATHS,
    Factor,
    Path,
    PathSet,
    comparison_block,
    fused_note,
    path_equation,
    path_label,
)
from chainrule.explain.record import Block, ConvExampleState, Equation, Section, StepRecord
from chainrule.explain.spec import ConvLayerSpec, ConvSpec, PoolLayerSpec
from chainrule.explain.symbols import LOSS, sym_map
from chainrule.reporting.expr import Add, Deriv, Expr, Num, Raw, Style, Sym

PARAMETER = re.compile(r"^\s*([Wb])(\d+)\s*\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]\s*$")


@dataclass(frozen=True)
class ConvParameter:
    """One scalar parameter of a convolutional spec, 1-based: W1[1,1,2,1] (filter, channel,
    row, column), b1[1], W4[2,3] (a dense layer's row, column)."""

    kind: str
    layer: int
    index: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"{self.kind}{self.layer}[{','.join(map(str, self.index))}]"

    @property
    def symbol(self) -> Sym:
        return Sym(self.kind, self.layer, self.index)

    @property
    def row(self) -> int:
        return self.index[0]

    @property
    def column(self) -> int | None:
        return self.index[1] if len(self.index) > 1 else None


@dataclass
class ConvPathSet(PathSet):
    """The paths, grouped by the output pixel of the parameter's layer they pass through."""

    #: (the pixel z_l[...], its paths) in order.
    groups: list[tuple[Expr, list[Path]]] = field(default_factory=list)
    #: Pixels whose every path crosses a max pool at a non-maximum (a factor 0).
    blocked: list[Expr] = field(default_factory=list)


def parse_conv_parameter(text: str, spec: ConvSpec) -> ConvParameter:
    """``"W1[1,1,2,1]"`` -> ConvParameter; errors name the layer and the tensor's shape."""
    match = PARAMETER.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"--paths {text!r}: write a kernel weight as W<layer>[filter,channel,row,column] "
            "(e.g. W1[1,1,1,1], counted from 1), a dense weight as W<layer>[row,column] or a "
            "bias as b<layer>[index]"
        )
    kind, layer = match.group(1), int(match.group(2))
    index = tuple(int(part) for part in match.group(3).split(","))
    with_parameters = [n for n in range(1, spec.n_layers + 1) if spec.has_parameters(n)]
    if layer not in with_parameters:
        listing = ", ".join(f"{kind}{n}" for n in with_parameters)
        raise ValueError(
            f"--paths {text}: layer {layer} has no parameters in this network; its parameters "
            f"are {listing}"
        )
    W, b = spec.weights()[layer - 1], spec.biases()[layer - 1]
    shape = W.shape if kind == "W" else b.shape
    tensor = f"{kind}{layer}"
    if len(index) != len(shape) or not all(1 <= i <= n for i, n in zip(index, shape, strict=False)):
        what = (
            "(filters, channels, rows, columns)"
            if kind == "W" and W.ndim == 4
            else "(rows = output neurons, columns = inputs)"
            if kind == "W"
            else "(one per filter or neuron)"
        )
        raise ValueError(
            f"--paths {text}: {tensor} is {'×'.join(map(str, shape))} {what}, so it takes "
            f"{len(shape)} index{'es' * (len(shape) != 1)} from 1 up to "
            f"[{','.join(map(str, shape))}]"
        )
    return ConvParameter(kind, layer, index)


# -- enumeration -----------------------------------------------------------------------------
class _Walker:
    """Walks the scalar graph of one image upward, from a pixel to the loss."""

    def __init__(self, spec: ConvSpec, step: StepRecord, example: ConvExampleState) -> None:
        self.spec, self.step, self.example = spec, step, example
        self.engines = spec.engine_layers()
        self.first_dense = next(
            n for n in range(1, spec.n_layers + 1) if spec.kinds[n - 1] == "dense"
        )

    def to_z(self, layer: int, index: tuple[int, ...]) -> list[list[Factor]]:
        """Every path from L to z_layer[index] (0-based index)."""
        if self.spec.kinds[layer - 1] == "dense":
            return dense_paths.paths_to_z(self.spec, self.step.W, self.example, layer, index[0])
        spec_layer: ConvLayerSpec = self.spec.layers[layer - 1]  # type: ignore[assignment]
        above = self.to_a(layer, index)
        if spec_layer.activation_name == "identity":
            return above
        step = Factor(
            Deriv(sym_map("a", layer, _index(*index)), sym_map("z", layer, _index(*index))),
            float(self.example.local[layer - 1][index]),
        )
        return [[*path, step] for path in above]

    def to_a(self, layer: int, index: tuple[int, ...]) -> list[list[Factor]]:
        """Every path from L to a_layer[index] of a feature map or the flattened vector."""
        if len(index) == 1:  # a vector: dense layers above
            return dense_paths.paths_to_a(self.spec, self.step.W, self.example, layer, index[0])
        above = layer + 1
        kind = self.spec.kinds[above - 1]
        here = sym_map("a", layer, _index(*index))
        result: list[list[Factor]] = []
        c, y, x = index
        if kind == "flatten":
            _, height, width = self.example.a[layer - 1].shape
            k = c * height * width + y * width + x
            step = Factor(Deriv(sym_map("a", above, (k + 1,)), here), 1.0)
            return [[*path, step] for path in self.to_a(above, (k,))]
        geometry = Geometry(self.engines[above - 1])
        if kind == "conv2d":
            W = self.step.W[above - 1]
            out_shape = self.example.z[above - 1].shape[1:]
            for o in range(W.shape[0]):
                for i, j, p, q in sorted(
                    geometry.windows_holding(y + geometry.top, x + geometry.left, out_shape)
                ):
                    target = (o, i, j)
                    step = Factor(
                        Deriv(sym_map("z", above, _index(*target)), here), float(W[o, c, p, q])
                    )
                    result += [[*path, step] for path in self.to_z(above, target)]
            return result
        pool: PoolLayerSpec = self.spec.layers[above - 1]  # type: ignore[assignment]
        out_shape = self.example.a[above - 1].shape[1:]
        share = 1.0 / (geometry.window[0] * geometry.window[1])
        for i, j, _, _ in sorted(geometry.windows_holding(y, x, out_shape)):
            target = (c, i, j)
            if pool.is_max:
                chosen = tuple(self.example.routes[above][c, i, j])
                if chosen != (y, x):
                    continue  # a factor 0: not this window's maximum
                derivative = 1.0
            else:
                derivative = share
            step = Factor(Deriv(sym_map("a", above, _index(*target)), here), derivative)
            result += [[*path, step] for path in self.to_a(above, target)]
        return result


def enumerate_conv_paths(spec: ConvSpec, step: StepRecord, parameter: ConvParameter) -> ConvPathSet:
    """All chain-rule paths from L to ``parameter`` at ``step``, grouped by output pixel."""
    example: ConvExampleState = step.examples[0]  # type: ignore[assignment]
    walker = _Walker(spec, step, example)
    layer = parameter.layer
    gradient_values = step.dW if parameter.kind == "W" else step.db
    gradient = float(gradient_values[layer - 1][tuple(i - 1 for i in parameter.index)])
    groups: list[tuple[Expr, list[Path]]] = []
    blocked: list[Expr] = []
    if spec.kinds[layer - 1] == "dense":
        dense = dense_paths.Parameter(parameter.kind, layer, parameter.row, parameter.column)
        path_set = dense_paths.enumerate_paths(spec, step, dense)  # type: ignore[arg-type]
        pixel = sym_map("z", layer, (parameter.row,))
        groups = [(pixel, path_set.per_example[0])]
    else:
        geometry = Geometry(walker.engines[layer - 1])
        z = example.z[layer - 1]
        xp = geometry.pad(example.activation_input(layer))
        o = parameter.index[0] - 1
        for i, j in np.ndindex(*z.shape[1:]):
            pixel = sym_map("z", layer, _index(o, i, j))
            if parameter.kind == "W":
                _, c, p, q = (v - 1 for v in parameter.index)
                y, x = geometry.position(i, j, p, q)
                value = float(xp[c, y, x])
            else:
                value = 1.0
            last = Factor(Deriv(pixel, parameter.symbol), value)
            paths = [Path((*factors, last)) for factors in walker.to_z(layer, (o, i, j))]
            if paths:
                groups.append((pixel, paths))
            else:
                blocked.append(pixel)
    all_paths = [path for _, paths in groups for path in paths]
    total = float(sum(path.product for path in all_paths))
    return ConvPathSet(
        parameter, [all_paths], [total], total, gradient, groups=groups, blocked=blocked
    )


# -- printing --------------------------------------------------------------------------------
def conv_paths_section(spec: ConvSpec, path_sets: list[ConvPathSet]) -> Section:
    """Each parameter's paths, pixel by pixel, their sums, and the backward pass's value."""
    section = Section("Chain-rule paths")
    for path_set in path_sets:
        section.blocks += _blocks(spec, path_set)
    return section


def _blocks(spec: ConvSpec, path_set: ConvPathSet) -> list[Block]:
    parameter = path_set.parameter
    gradient_symbol = Deriv(LOSS, parameter.symbol)
    style = Style()
    count = len(path_set.per_example[0])
    intro = Block(f"Paths from L to {parameter.name}")
    shared = spec.kinds[parameter.layer - 1] == "conv2d"
    intro.notes.append(
        (
            f"{count} path{'s' * (count != 1)}; each is a product of local derivatives, from the "
            "loss down to the parameter, and ",
            gradient_symbol,
            " is their sum (the multivariate chain rule)."
            + (
                f" The {'bias' if parameter.name.startswith('b') else 'kernel'} is shared: "
                f"{parameter.name} reaches the loss through every output "
                "pixel of its filter, so the paths are grouped by that pixel."
                if shared
                else ""
            ),
        )
    )
    if spec.fused:
        intro.notes.append(fused_note(spec))  # type: ignore[arg-type]
    if path_set.blocked:
        names = ", ".join(pixel.text(style) for pixel in path_set.blocked)
        intro.notes.append(
            (
                f"Through {names}: no path counts, each crosses a max pooling at an entry that "
                "is not its window's maximum (local derivative 0).",
            )
        )
    blocks = [intro]
    subtotals = []
    printed = 0
    for pixel, paths in path_set.groups:
        block = Block(f"Through {pixel.text(style)}")
        number0 = printed
        for path in paths:
            printed += 1
            if printed > MAX_PRINTED_PATHS:
                continue
            block.equations.append(path_equation(printed, path))
        if block.equations:
            blocks.append(block)
        subtotal = float(sum(path.product for path in paths))
        labels = [path_label(n) for n in range(number0 + 1, printed + 1)]
        subtotals.append((pixel, labels, subtotal))
    if printed > MAX_PRINTED_PATHS:
        blocks[0].notes.append(
            (f"Paths {MAX_PRINTED_PATHS + 1} to {printed} are not printed but summed.",)
        )
    check = Block(f"Sum of the paths for {parameter.name}")
    for pixel, labels, subtotal in subtotals:
        forms: list[Expr] = [Add(*labels)] if len(labels) > 1 else []
        check.equations.append(
            Equation(
                Raw(f"through {pixel.text(style)}", f"\\text{{through }} {pixel.latex(style)}"),
                forms,
                subtotal,
            )
        )
    if len(subtotals) > 1:
        check.equations.append(
            Equation(gradient_symbol, [Add(*[Num(s) for _, _, s in subtotals])], path_set.total)
        )
    return [*blocks, check, comparison_block(path_set)]
