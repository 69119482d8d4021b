"""The convolutional layers of a worked example, printed: every pixel with its arithmetic.

Notation (1-based, as lecture notes write it; s the stride, kh × kw the kernel):

    convolution   z_l[o,i,j] = Σ_{c,p,q} a_{l-1}[c, s(i-1)+p, s(j-1)+q] W_l[o,c,p,q] + b_l[o]
                  (a cross-correlation: the kernel slides unflipped; with padding, a_{l-1}
                  is read zero-padded, pad(a_{l-1})), then a_l = f(z_l) pixel by pixel
    max pooling   a_l[c,i,j] = max_{p,q} a_{l-1}[c, s(i-1)+p, s(j-1)+q]
    avg pooling   a_l[c,i,j] = (1/P) Σ_{p,q} a_{l-1}[c, s(i-1)+p, s(j-1)+q]
    flatten       a_l[(c-1)·H·W + (i-1)·W + j] = a_{l-1}[c,i,j]

Backward, δ_l = dL/dz_l:

    δ_l[o,i,j]            = dL/da_l[o,i,j] · f'(z_l[o,i,j])
    dL/dW_l[o,c,p,q]      = Σ_{i,j} δ_l[o,i,j] · a_{l-1}[c, s(i-1)+p, s(j-1)+q]
                            (the correlation of the input with δ)
    dL/db_l[o]            = Σ_{i,j} δ_l[o,i,j]
    dL/da_{l-1}[c,u,v]    = Σ_{o,i,j} δ_l[o,i,j] · W_l[o,c, u-s(i-1), v-s(j-1)]
                            (the full convolution of δ, stride-dilated, with the kernel
                            flipped; the padding is cropped off)
    max pooling           dL/da_{l-1} = dL/da_l at each window's chosen position, 0 elsewhere
    avg pooling           dL/da_{l-1}[c,u,v] = Σ_{windows holding (u,v)} dL/da_l[c,i,j] / P

The values are the engine's (``conv_numbers``); each printed sum is also added up here, as
printed, and :class:`Arithmetic` keeps the largest difference from the engine's value, which
the verification reports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from chainrule.explain.backward import upstream_gradient
from chainrule.explain.record import Block, ConvExampleState, Equation
from chainrule.explain.spec import ConvLayerSpec, ConvSpec, PoolLayerSpec
from chainrule.explain.symbolic import Term
from chainrule.explain.symbols import LOSS, Applied, MaxOf, Padded, map_name, sym_map
from chainrule.nn.layers import AvgPool2D, Conv2D, MaxPool2D
from chainrule.reporting.expr import SYMBOLS, Add, Deriv, Expr, Frac, Mul, Num, Raw, Style

#: The engine's tie rule for max pooling, as ``chainrule.nn.layers.MaxPool2D`` implements it.
TIE_RULE = (
    "Ties: the engine (chainrule.nn.layers.MaxPool2D) passes on the first maximum of a window "
    "in row-major order (as PyTorch does) and routes the whole gradient to it."
)


class Arithmetic:
    """The largest difference between a printed sum, added up as printed, and the engine."""

    def __init__(self) -> None:
        self.max_difference = 0.0

    def check(self, printed: float, engine: float) -> None:
        self.max_difference = max(self.max_difference, abs(float(printed) - float(engine)))


def _index(*values: int) -> tuple[int, ...]:
    """0-based array indices -> the printed 1-based ones."""
    return tuple(v + 1 for v in values)


def map_label(base: str, layer: int, channel: int | None = None, extra: str = "") -> Raw:
    """The name of a whole feature map (or of one of its channels): a1[2,:,:] / x."""
    plain, tex = (f"{base}{layer}", f"{SYMBOLS.get(base, base)}^{{({layer})}}")
    if base == "a" and layer == 0:
        plain, tex = "x", "x"
    if base == "pad":
        plain, tex = (
            f"pad({map_name(layer)[0]})",
            ("\\tilde{x}" if layer == 0 else f"\\tilde{{a}}^{{({layer})}}"),
        )
    if extra == "dL/d":  # a gradient map, named as its entries are: dL/da2[1,:,:]
        plain, tex = f"dL/d{plain}", f"\\partial L/\\partial {tex}"
    elif extra:
        plain, tex = f"{extra}({plain})", f"\\operatorname{{{extra}}}({tex})"
    if channel is None:
        return Raw(plain, tex)
    return Raw(f"{plain}[{channel},:,:]", f"{tex}_{{{channel},:,:}}")


def channel_maps(base: str, layer: int, values: np.ndarray, extra: str = "") -> list[tuple]:
    """One (name, matrix) per channel of a (C, H, W) map."""
    return [(map_label(base, layer, c + 1, extra), values[c]) for c in range(values.shape[0])]


def kernel_maps(layer: int, W: np.ndarray, b: np.ndarray | None = None) -> list[list[tuple]]:
    """Each filter's kernels W_l[o,c,:,:] side by side (and its bias)."""
    groups = []
    for o in range(W.shape[0]):
        group = [
            (
                Raw(f"W{layer}[{o + 1},{c + 1},:,:]", f"W^{{({layer})}}_{{{o + 1},{c + 1},:,:}}"),
                W[o, c],
            )
            for c in range(W.shape[1])
        ]
        if b is not None:
            group.append((Raw(f"b{layer}[{o + 1}]", f"b^{{({layer})}}_{{{o + 1}}}"), b[o : o + 1]))
        groups.append(group)
    return groups


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def _size(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape))


# -- geometry --------------------------------------------------------------------------------
class Geometry:
    """Where a conv or pooling layer's windows sit: stride, window size, padding offsets."""

    def __init__(self, engine: Conv2D | MaxPool2D | AvgPool2D) -> None:
        self.engine = engine
        self.stride = engine.stride
        if isinstance(engine, Conv2D):
            self.window = engine.kernel_size
            (self.top, self.bottom), (self.left, self.right) = engine.pads
        else:
            self.window = engine.pool_size
            self.top = self.bottom = self.left = self.right = 0

    @property
    def padded(self) -> bool:
        return any((self.top, self.bottom, self.left, self.right))

    def pad(self, values: np.ndarray) -> np.ndarray:
        return np.pad(values, ((0, 0), (self.top, self.bottom), (self.left, self.right)))

    def position(self, i: int, j: int, p: int, q: int) -> tuple[int, int]:
        """The (padded) input position of window (i, j)'s entry (p, q), 0-based."""
        return self.stride[0] * i + p, self.stride[1] * j + q

    def windows_holding(self, y: int, x: int, out_shape: tuple[int, int]):
        """(i, j, p, q) of every window whose entry (p, q) is padded position (y, x)."""
        for p in range(self.window[0] - 1, -1, -1):  # the flipped kernel, row-major
            for q in range(self.window[1] - 1, -1, -1):
                di, dj = y - p, x - q
                if di % self.stride[0] or dj % self.stride[1]:
                    continue
                i, j = di // self.stride[0], dj // self.stride[1]
                if 0 <= i < out_shape[0] and 0 <= j < out_shape[1]:
                    yield i, j, p, q


def input_entry(layer: int, geometry: Geometry, c: int, y: int, x: int) -> Expr:
    """The symbol of the (padded) input entry at 0-based (c, y, x)."""
    if geometry.padded:
        return Padded(layer - 1, _index(c, y, x))
    return sym_map("a", layer - 1, _index(c, y, x))


def source_names(number: int, geometry: Geometry) -> tuple[str, str]:
    """The input layer ``number`` reads, as text and TeX: x, a2, or padded pad(x) / x̃."""
    plain, tex = map_name(number - 1)
    if not geometry.padded:
        return plain, tex
    return f"pad({plain})", ("\\tilde{x}" if number == 1 else f"\\tilde{{a}}^{{({number - 1})}}")


def _stride_text(geometry: Geometry) -> str:
    sh, sw = geometry.stride
    return f"stride {sh}" if sh == sw else f"stride {sh}×{sw}"


def _position_text(geometry: Geometry) -> tuple[str, str]:
    """'s(i-1)+p' in text and TeX, with the stride's number (1: i-1+p)."""
    sh, sw = geometry.stride
    rows = f"{sh}(i-1)+p" if sh != 1 else "i-1+p"
    cols = f"{sw}(j-1)+q" if sw != 1 else "j-1+q"
    return f"{rows},{cols}", f"{rows},\\,{cols}"


# -- forward ---------------------------------------------------------------------------------
def conv_forward_blocks(
    spec: ConvSpec,
    engine: Conv2D,
    W: np.ndarray,
    b: np.ndarray,
    example: ConvExampleState,
    number: int,
    arithmetic: Arithmetic,
) -> list[Block]:
    """Convolution layer ``number``: each z pixel as its sum of products, then a = f(z)."""
    layer: ConvLayerSpec = spec.layers[number - 1]  # type: ignore[assignment]
    geometry = Geometry(engine)
    a_prev = example.activation_input(number)
    xp = geometry.pad(a_prev)
    z, a = example.z[number - 1], example.a[number - 1]
    filters, channels, kh, kw = W.shape
    math = layer.math
    identity = layer.activation_name == "identity"
    pad_text = ""
    if geometry.padded:
        pad_text = (
            f", padding {geometry.top}"
            if len({geometry.top, geometry.bottom, geometry.left, geometry.right}) == 1
            else ", padded"
        )
    block = Block(
        f"Layer {number}: convolution, {_size(a_prev.shape)} -> {_plural(filters, 'filter')} "
        f"{kh}×{kw}, {_stride_text(geometry)}{pad_text} -> {_size(z.shape)}"
        + ("" if identity else f", then {math.symbol.text}")
    )
    prev_plain, _ = map_name(number - 1)
    source_plain, source_tex = source_names(number, geometry)
    position, position_tex = _position_text(geometry)
    block.formulas.append(
        Raw(
            f"z{number}[o,i,j] = Σ_c Σ_p Σ_q {source_plain}[c,{position}]*W{number}[o,c,p,q] + "
            f"b{number}[o]",
            f"z^{{({number})}}_{{o,i,j}} = \\sum_{{c,p,q}} {source_tex}_{{c,\\,{position_tex}}}"
            f"\\, W^{{({number})}}_{{o,c,p,q}} + b^{{({number})}}_o",
        )
    )
    if not identity:
        block.formulas.append(
            Raw(
                f"a{number}[o,i,j] = {math.symbol.text}(z{number}[o,i,j])",
                f"a^{{({number})}}_{{o,i,j}} = {math.symbol.tex}(z^{{({number})}}_{{o,i,j}})",
            )
        )
        block.notes.append(("where ", Raw(math.definition.text, math.definition.tex)))
    block.notes.append(
        (
            "A cross-correlation, as chainrule.nn.layers.Conv2D (and every framework) computes "
            f"it: each {kh}×{kw} kernel slides over the input unflipped, "
            f"{_plural(geometry.stride[0], 'row')} at a time, and each output pixel is the sum "
            "of the products of the kernel with the input under it, plus the filter's bias.",
        )
    )
    if geometry.padded:
        block.notes.append(
            (
                f"{source_plain} is {prev_plain} with zeros around it ({geometry.top} row"
                f"{'s' * (geometry.top != 1)} above, {geometry.bottom} below, {geometry.left} "
                f"column{'s' * (geometry.left != 1)} left, {geometry.right} right); its indices "
                "count from its own corner.",
            )
        )
    if number == 1:
        block.maps.append(channel_maps("a", 0, a_prev))
    if geometry.padded:
        block.maps.append(channel_maps("pad", number - 1, xp))
    block.maps += kernel_maps(number, W, b)
    for o, i, j in np.ndindex(*z.shape):
        products, total = [], 0.0
        for c, p, q in np.ndindex(channels, kh, kw):
            y, x = geometry.position(i, j, p, q)
            products.append(Mul(Num(xp[c, y, x]), Num(W[o, c, p, q])))
            total += xp[c, y, x] * W[o, c, p, q]
        arithmetic.check(total + b[o], z[o, i, j])
        block.equations.append(
            Equation(
                sym_map("z", number, _index(o, i, j)),
                [Add(*products, Num(b[o]))],
                z[o, i, j],
            )
        )
    blocks = [block]
    result = Block(f"Layer {number}: feature map{'s' * (filters != 1)}")
    result.maps.append(channel_maps("z", number, z))
    if identity:
        result.notes.append((f"No activation: a{number} = z{number}.",))
    else:
        for o, i, j in np.ndindex(*z.shape):
            forms: list[Expr] = [Applied(math.symbol, Num(z[o, i, j]))]
            result.equations.append(
                Equation(sym_map("a", number, _index(o, i, j)), forms, a[o, i, j])
            )
        result.maps.append(channel_maps("a", number, a))
    blocks.append(result)
    return blocks


def pool_forward_block(
    spec: ConvSpec,
    engine: MaxPool2D | AvgPool2D,
    example: ConvExampleState,
    number: int,
    arithmetic: Arithmetic,
) -> Block:
    """Pooling layer ``number``: each window's max (and which entry it is) or mean."""
    layer: PoolLayerSpec = spec.layers[number - 1]  # type: ignore[assignment]
    geometry = Geometry(engine)
    a_prev, a = example.activation_input(number), example.a[number - 1]
    ph, pw = geometry.window
    kind = "max" if layer.is_max else "average"
    block = Block(
        f"Layer {number}: {kind} pooling {ph}×{pw}, {_stride_text(geometry)}: "
        f"{_size(a_prev.shape)} -> {_size(a.shape)}"
    )
    prev_plain, prev_tex = map_name(number - 1)
    position, position_tex = _position_text(geometry)
    P = ph * pw
    if layer.is_max:
        block.formulas.append(
            Raw(
                f"a{number}[c,i,j] = max over p, q of {prev_plain}[c,{position}]",
                f"a^{{({number})}}_{{c,i,j}} = \\max_{{p,q}} {prev_tex}_{{c,\\,{position_tex}}}",
            )
        )
        block.notes.append((TIE_RULE,))
    else:
        block.formulas.append(
            Raw(
                f"a{number}[c,i,j] = (1/{P}) Σ_p Σ_q {prev_plain}[c,{position}]",
                f"a^{{({number})}}_{{c,i,j}} = \\frac{{1}}{{{P}}} \\sum_{{p,q}} "
                f"{prev_tex}_{{c,\\,{position_tex}}}",
            )
        )
    if geometry.stride[0] < ph or geometry.stride[1] < pw:
        block.notes.append(("The windows overlap (stride smaller than the window).",))
    chosen = []
    for c, i, j in np.ndindex(*a.shape):
        entries = [geometry.position(i, j, p, q) for p, q in np.ndindex(ph, pw)]
        symbols = [sym_map("a", number - 1, _index(c, y, x)) for y, x in entries]
        numbers = [Num(a_prev[c, y, x]) for y, x in entries]
        lhs = sym_map("a", number, _index(c, i, j))
        if layer.is_max:
            arithmetic.check(max(a_prev[c, y, x] for y, x in entries), a[c, i, j])
            forms: list[Expr] = [MaxOf(*symbols), MaxOf(*numbers)]
            y, x = example.routes[number][c, i, j]
            tied = sum(a_prev[c, u, v] == a[c, i, j] for u, v in entries) > 1
            chosen.append((lhs, sym_map("a", number - 1, _index(c, y, x)), tied))
        else:
            arithmetic.check(sum(a_prev[c, y, x] for y, x in entries) / P, a[c, i, j])
            forms = [Mul(Frac(1, P), Add(*symbols)), Mul(Frac(1, P), Add(*numbers))]
        block.equations.append(Equation(lhs, forms, a[c, i, j]))
    if chosen:
        pieces: list = ["Chosen (each window's maximum, where its gradient goes back): "]
        for index, (lhs, source, tied) in enumerate(chosen):
            pieces += [
                ", " if index else "",
                Raw(
                    f"{lhs.text(Style())} <- {source.text(Style())}",
                    f"{lhs.latex(Style())} \\leftarrow {source.latex(Style())}",
                ),
                " (a tie: the first maximum)" if tied else "",
            ]
        pieces.append(".")
        block.notes.append(tuple(pieces))
    block.maps.append(channel_maps("a", number, a))
    return block


def flatten_forward_block(example: ConvExampleState, number: int) -> Block:
    """Flatten layer ``number``: which map entry each vector entry is."""
    a_prev, a = example.activation_input(number), example.a[number - 1]
    channels, height, width = a_prev.shape
    block = Block(f"Layer {number}: flatten {_size(a_prev.shape)} -> {a.size}")
    prev_plain, prev_tex = map_name(number - 1)
    block.formulas.append(
        Raw(
            f"a{number}[(c-1)*{height * width} + (i-1)*{width} + j] = {prev_plain}[c,i,j]",
            f"a^{{({number})}}_{{(c-1) \\cdot {height * width} + (i-1) \\cdot {width} + j}} = "
            f"{prev_tex}_{{c,i,j}}",
        )
    )
    block.notes.append(
        ("Row by row, channel after channel (the engine's reshape, C order): no arithmetic.",)
    )
    for k, (c, i, j) in enumerate(np.ndindex(channels, height, width)):
        source = sym_map("a", number - 1, _index(c, i, j))
        block.equations.append(Equation(sym_map("a", number, (k + 1,)), [source], a[k]))
    return block


# -- backward --------------------------------------------------------------------------------
def flatten_backward_block(
    W: list[np.ndarray | None], example: ConvExampleState, number: int
) -> Block:
    """Flatten layer ``number``: dL/da from the dense layer above, then reshaped back."""
    a_prev = example.activation_input(number)
    channels, height, width = a_prev.shape
    block = Block(f"Layer {number} (flatten)")
    upstream_gradient(W, example, number, a_prev.size, block)  # type: ignore[arg-type]
    prev_plain, prev_tex = map_name(number - 1)
    block.formulas.append(
        Raw(
            f"dL/d{prev_plain}[c,i,j] = dL/da{number}[(c-1)*{height * width} + (i-1)*{width} + j]",
            f"\\frac{{\\partial L}}{{\\partial {prev_tex}_{{c,i,j}}}} = \\frac{{\\partial L}}"
            f"{{\\partial a^{{({number})}}_{{(c-1) \\cdot {height * width} + (i-1) \\cdot "
            f"{width} + j}}}}",
        )
    )
    gradient = example.input_gradient(number)
    for k, (c, i, j) in enumerate(np.ndindex(channels, height, width)):
        lhs = Deriv(LOSS, sym_map("a", number - 1, _index(c, i, j)))
        block.equations.append(
            Equation(lhs, [Deriv(LOSS, sym_map("a", number, (k + 1,)))], gradient[c, i, j])
        )
    block.maps.append(channel_maps("a", number - 1, gradient, extra="dL/d"))
    return block


def pool_backward_block(
    spec: ConvSpec,
    engine: MaxPool2D | AvgPool2D,
    example: ConvExampleState,
    number: int,
    arithmetic: Arithmetic,
) -> Block:
    """Pooling layer ``number``: dL/da_l routed back to the chosen entries (max) or spread
    evenly over each window (average)."""
    layer: PoolLayerSpec = spec.layers[number - 1]  # type: ignore[assignment]
    geometry = Geometry(engine)
    upstream = example.dL_da[number - 1]
    gradient = example.input_gradient(number)
    ph, pw = geometry.window
    P = ph * pw
    prev_plain, prev_tex = map_name(number - 1)
    kind = "max" if layer.is_max else "average"
    block = Block(f"Layer {number} ({kind} pooling)")
    block.maps.append(channel_maps("a", number, upstream, extra="dL/d"))
    # u, v index the input map: y is the target and x the image, so neither names an index
    lhs_plain = f"dL/d{prev_plain}[c,u,v]"
    lhs_tex = f"\\frac{{\\partial L}}{{\\partial {prev_tex}_{{c,u,v}}}}"
    sources: dict[tuple[int, int, int], list[tuple[int, int]]] = defaultdict(list)
    if layer.is_max:
        block.formulas.append(
            Raw(
                f"{lhs_plain} = Σ dL/da{number}[c,i,j] over the windows (i,j) whose maximum is "
                f"{prev_plain}[c,u,v]; 0 where no window chose it",
                f"{lhs_tex} = \\sum_{{(i,j):\\ \\text{{max at }}(u,v)}} \\frac{{\\partial L}}"
                f"{{\\partial a^{{({number})}}_{{c,i,j}}}}",
            )
        )
        block.notes.append(
            (
                "The maximum passes its input through (local derivative 1) and ignores the rest "
                "(0), so each window's gradient goes back to its chosen entry only. " + TIE_RULE,
            )
        )
        for c, i, j in np.ndindex(*upstream.shape):
            y, x = example.routes[number][c, i, j]
            sources[(c, int(y), int(x))].append((i, j))
        for c, y, x in sorted(sources):
            windows = sources[(c, y, x)]
            symbols = [Deriv(LOSS, sym_map("a", number, _index(c, i, j))) for i, j in windows]
            numbers = [Num(upstream[c, i, j]) for i, j in windows]
            arithmetic.check(sum(upstream[c, i, j] for i, j in windows), gradient[c, y, x])
            forms: list[Expr] = (
                [symbols[0]] if len(symbols) == 1 else [Add(*symbols), Add(*numbers)]
            )
            block.equations.append(
                Equation(
                    Deriv(LOSS, sym_map("a", number - 1, _index(c, y, x))), forms, gradient[c, y, x]
                )
            )
        block.notes.append(
            (f"Every other entry of dL/d{prev_plain} is 0: it was not the maximum of its window.",)
        )
    else:
        block.formulas.append(
            Raw(
                f"{lhs_plain} = (1/{P}) Σ dL/da{number}[c,i,j] over the windows (i,j) holding "
                f"{prev_plain}[c,u,v]",
                f"{lhs_tex} = \\frac{{1}}{{{P}}} \\sum_{{(i,j)\\ \\text{{holding }}(u,v)}} \\frac{{\\partial L}}"
                f"{{\\partial a^{{({number})}}_{{c,i,j}}}}",
            )
        )
        block.notes.append(
            (f"Each entry of a window counts 1/{P} of its mean (local derivative 1/{P}).",)
        )
        out_shape = upstream.shape[1:]
        for c, y, x in np.ndindex(*gradient.shape):
            windows = [(i, j) for i, j, _, _ in geometry.windows_holding(y, x, out_shape)]
            windows.sort()
            if not windows:
                continue
            symbols = [Deriv(LOSS, sym_map("a", number, _index(c, i, j))) for i, j in windows]
            numbers = [Num(upstream[c, i, j]) for i, j in windows]
            arithmetic.check(sum(upstream[c, i, j] for i, j in windows) / P, gradient[c, y, x])
            block.equations.append(
                Equation(
                    Deriv(LOSS, sym_map("a", number - 1, _index(c, y, x))),
                    [Mul(Frac(1, P), Add(*symbols)), Mul(Frac(1, P), Add(*numbers))],
                    gradient[c, y, x],
                )
            )
    block.maps.append(channel_maps("a", number - 1, gradient, extra="dL/d"))
    return block


def conv_backward_blocks(
    spec: ConvSpec,
    engine: Conv2D,
    W: np.ndarray,
    example: ConvExampleState,
    number: int,
    arithmetic: Arithmetic,
) -> list[Block]:
    """Convolution layer ``number``: δ = dL/da ⊙ f'(z), then the gradient for its input as
    the full convolution of δ with the flipped kernel, for every input pixel."""
    layer: ConvLayerSpec = spec.layers[number - 1]  # type: ignore[assignment]
    math = layer.math
    identity = layer.activation_name == "identity"
    delta = example.delta[number - 1]
    fn = math.symbol.text
    block = Block(f"Layer {number} (convolution{'' if identity else ', ' + fn})")
    block.maps.append(channel_maps("a", number, example.dL_da[number - 1], extra="dL/d"))
    if identity:
        block.notes.append((f"No activation: δ{number} = dL/dz{number} = dL/da{number}.",))
    else:
        derivative = math.derivative_definition
        block.formulas.append(Raw(derivative.text, derivative.tex))
        block.formulas.append(
            Raw(
                f"δ{number}[o,i,j] = dL/da{number}[o,i,j]*{fn}'(z{number}[o,i,j])",
                f"\\delta^{{({number})}}_{{o,i,j}} = \\frac{{\\partial L}}{{\\partial "
                f"a^{{({number})}}_{{o,i,j}}}} \\, {math.symbol.tex}'(z^{{({number})}}_{{o,i,j}})",
            )
        )
        for o, i, j in np.ndindex(*delta.shape):
            block.equations.append(_conv_local_equation(spec, example, number, (o, i, j)))
        for o, i, j in np.ndindex(*delta.shape):
            upstream = example.dL_da[number - 1][o, i, j]
            local = example.local[number - 1][o, i, j]
            arithmetic.check(upstream * local, delta[o, i, j])
            block.equations.append(
                Equation(
                    sym_map("δ", number, _index(o, i, j)),
                    [
                        Mul(
                            Deriv(LOSS, sym_map("a", number, _index(o, i, j))),
                            Applied(math.symbol, sym_map("z", number, _index(o, i, j)), prime=True),
                        ),
                        Mul(Num(upstream), Num(local)),
                    ],
                    delta[o, i, j],
                )
            )
    block.maps.append(channel_maps("δ", number, delta))
    return [block, conv_input_gradient_block(engine, W, example, number, arithmetic)]


def _conv_local_equation(
    spec: ConvSpec, example: ConvExampleState, number: int, index: tuple[int, int, int]
) -> Equation:
    """f'(z_l[o,i,j]) from the activation's math description, in symbols and numbers."""
    math = spec.layers[number - 1].math
    z_symbol, a_symbol = sym_map("z", number, _index(*index)), sym_map("a", number, _index(*index))
    value = example.local[number - 1][index]
    lhs = Applied(math.symbol, z_symbol, prime=True)
    symbolic = math.derivative(Term(z_symbol), Term(a_symbol))
    if not isinstance(symbolic, Term):
        return Equation(lhs, [], value)
    numeric = math.derivative(
        Term.number(example.z[number - 1][index]), Term.number(example.a[number - 1][index])
    )
    return Equation(lhs, [symbolic.expr, numeric.expr], value)


def conv_input_gradient_block(
    engine: Conv2D, W: np.ndarray, example: ConvExampleState, number: int, arithmetic: Arithmetic
) -> Block:
    """dL/da_{l-1} (dL/dx for the first layer) pixel by pixel: the full convolution of δ
    with the flipped kernel, each term δ[o,i,j]·W[o,c,p,q] of a window holding the pixel."""
    geometry = Geometry(engine)
    delta = example.delta[number - 1]
    gradient = example.input_gradient(number)
    filters, channels, kh, kw = W.shape
    sh, sw = geometry.stride
    prev_plain, prev_tex = map_name(number - 1)
    title = "the image" if number == 1 else f"layer {number - 1}'s output"
    block = Block(f"Layer {number}: the gradient for its input ({title}), dL/d{prev_plain}")
    # u, v index the input map: y is the target and x the image, so neither names an index
    rows = f"u-{sh}(i-1)" if sh != 1 else "u-i+1"
    cols = f"v-{sw}(j-1)" if sw != 1 else "v-j+1"
    shift = ""
    if geometry.padded:
        shift = (
            f" (u, v counted in pad({prev_plain}): u = row + {geometry.top}, "
            f"v = column + {geometry.left})"
        )
    block.formulas.append(
        Raw(
            f"dL/d{prev_plain}[c,u,v] = Σ_o Σ_i Σ_j δ{number}[o,i,j]*W{number}[o,c,{rows},{cols}]"
            f"   (only kernel indices inside 1..{kh}, 1..{kw}){shift}",
            f"\\frac{{\\partial L}}{{\\partial {prev_tex}_{{c,u,v}}}} = \\sum_{{o,i,j}} "
            f"\\delta^{{({number})}}_{{o,i,j}} \\, W^{{({number})}}_{{o,c,\\,{rows},\\,{cols}}}",
        )
    )
    strided = sh > 1 or sw > 1
    dilation = (
        f", stride-dilated ({sh - 1} zero{'s' * (sh != 2)} between entries)," if strided else ""
    )
    crop = " and the padding cropped off" if geometry.padded else ""
    block.notes.append(
        (
            f"This is the full convolution of δ{number}{dilation} zero-padded by "
            f"{kh - 1} row{'s' * (kh != 2)} and {kw - 1} column{'s' * (kw != 2)} on every side, "
            f"with the kernel flipped in both directions (rot180(W)[p,q] = W[{kh + 1}-p,"
            f"{kw + 1}-q]){crop}: every pixel collects δ times the kernel entry that connected "
            "it to that output. Terms are listed in the flipped kernel's order.",
        )
    )
    flipped = W[:, :, ::-1, ::-1]
    for o in range(filters):
        block.maps.append(
            [
                (
                    Raw(
                        f"rot180(W{number}[{o + 1},{c + 1},:,:])",
                        f"\\operatorname{{rot180}}(W^{{({number})}}_{{{o + 1},{c + 1},:,:}})",
                    ),
                    flipped[o, c],
                )
                for c in range(channels)
            ]
        )
    dilated = np.zeros((filters, sh * (delta.shape[1] - 1) + 1, sw * (delta.shape[2] - 1) + 1))
    dilated[:, ::sh, ::sw] = delta
    spread = np.pad(dilated, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    spread_name = "dilated and padded" if strided else "padded"
    block.maps.append(
        [
            (
                Raw(
                    f"δ{number}[{o + 1},:,:], {spread_name}",
                    f"\\delta^{{({number})}}_{{{o + 1},:,:}}\\ \\text{{{spread_name}}}",
                ),
                spread[o],
            )
            for o in range(filters)
        ]
    )
    out_shape = delta.shape[1:]
    for c, row, column in np.ndindex(*gradient.shape):
        y, x = row + geometry.top, column + geometry.left
        symbols, numbers, total = [], [], 0.0
        for o in range(filters):
            for i, j, p, q in geometry.windows_holding(y, x, out_shape):
                symbols.append(
                    Mul(
                        sym_map("δ", number, _index(o, i, j)),
                        sym_map("W", number, _index(o, c, p, q)),
                    )
                )
                numbers.append(Mul(Num(delta[o, i, j]), Num(W[o, c, p, q])))
                total += delta[o, i, j] * W[o, c, p, q]
        arithmetic.check(total, gradient[c, row, column])
        forms: list[Expr] = [Add(*symbols), Add(*numbers)] if symbols else []
        block.equations.append(
            Equation(
                Deriv(LOSS, sym_map("a", number - 1, _index(c, row, column))),
                forms,
                gradient[c, row, column],
            )
        )
    block.maps.append(channel_maps("a", number - 1, gradient, extra="dL/d"))
    return block


# -- gradients -------------------------------------------------------------------------------
def conv_gradient_block(
    spec: ConvSpec,
    engine: Conv2D,
    example: ConvExampleState,
    dW: np.ndarray,
    db: np.ndarray,
    number: int,
    arithmetic: Arithmetic,
) -> Block:
    """dL/dW_l[o,c,p,q]: the correlation of the input with δ, one sum per kernel entry; and
    dL/db_l[o], the sum of δ over the filter's map."""
    geometry = Geometry(engine)
    delta = example.delta[number - 1]
    xp = geometry.pad(example.activation_input(number))
    filters = dW.shape[0]
    block = Block(f"Layer {number} (convolution)")
    source_plain, source_tex = source_names(number, geometry)
    position, position_tex = _position_text(geometry)
    block.formulas.append(
        Raw(
            f"dL/dW{number}[o,c,p,q] = Σ_i Σ_j δ{number}[o,i,j]*{source_plain}[c,{position}],   "
            f"dL/db{number}[o] = Σ_i Σ_j δ{number}[o,i,j]",
            f"\\frac{{\\partial L}}{{\\partial W^{{({number})}}_{{o,c,p,q}}}} = \\sum_{{i,j}} "
            f"\\delta^{{({number})}}_{{o,i,j}} \\, {source_tex}_{{c,\\,{position_tex}}}, \\quad "
            f"\\frac{{\\partial L}}{{\\partial b^{{({number})}}_o}} = \\sum_{{i,j}} "
            f"\\delta^{{({number})}}_{{o,i,j}}",
        )
    )
    stride = (
        f", its entries {geometry.stride[0]} apart (the stride)" if max(geometry.stride) > 1 else ""
    )
    block.notes.append(
        (
            f"The kernel is shared by every output pixel, so its gradient sums over all of them: "
            f"the correlation of the input with δ{number} (δ{number} sliding over the input as "
            f"a kernel{stride}).",
        )
    )
    frozen = [name for name in (f"W{number}", f"b{number}") if not spec.trainable(name)]
    if frozen:
        block.notes.append((f"{' and '.join(frozen)} frozen: gradients shown, not used.",))
    for o, c, p, q in np.ndindex(*dW.shape):
        symbols, numbers, total = [], [], 0.0
        for i, j in np.ndindex(*delta.shape[1:]):
            y, x = geometry.position(i, j, p, q)
            symbols.append(
                Mul(sym_map("δ", number, _index(o, i, j)), input_entry(number, geometry, c, y, x))
            )
            numbers.append(Mul(Num(delta[o, i, j]), Num(xp[c, y, x])))
            total += delta[o, i, j] * xp[c, y, x]
        arithmetic.check(total, dW[o, c, p, q])
        block.equations.append(
            Equation(
                Deriv(LOSS, sym_map("W", number, _index(o, c, p, q))),
                [Add(*symbols), Add(*numbers)],
                dW[o, c, p, q],
            )
        )
    for o in range(filters):
        symbols = [sym_map("δ", number, _index(o, i, j)) for i, j in np.ndindex(*delta.shape[1:])]
        numbers = [Num(v) for v in delta[o].ravel()]
        arithmetic.check(float(np.sum(delta[o])), db[o])
        block.equations.append(
            Equation(
                Deriv(LOSS, sym_map("b", number, (o + 1,))), [Add(*symbols), Add(*numbers)], db[o]
            )
        )
    return block
