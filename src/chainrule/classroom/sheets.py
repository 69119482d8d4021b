"""The three things each student gets, as documents: the problem sheet, the answer key and
the answers file.

* ``sheet_document``: the givens (network in words and as a diagram carrying its numbers,
  x, y, every W and b), the conventions (activations and their derivatives, the loss and its
  reduction, the update rule, frozen tensors, rounding), then the numbered tasks, each with a
  table of blanks. No answer and no engine prose: nothing the sheet prints is computed.
* ``key_document``: ``explain``'s worked document of the same record (the full solution).
* ``answers``: {quantity name: value}, in the names ``explain`` prints — ``z1[2]``, ``a3[1]``,
  ``L``, ``dL/da3[1]``, ``δ2[1]``, ``dL/dW1[1,2]``, ``dL/db2[1]``, and ``W1[1,2]`` for a
  parameter after the step. With a batch each name ends in `` (example i)``; with several
  steps each begins with ``step s: ``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.classroom.assignment import Variant
from chainrule.explain.loss import loss_convention
from chainrule.explain.render import worked_document
from chainrule.explain.update import update_formulas
from chainrule.reporting import document as doc
from chainrule.reporting.expr import format_number

#: What a blank answer cell holds (dots: the same in a terminal, Markdown and LaTeX).
BLANK = "." * 16
#: Digits a given value is shown to (drawn values have far fewer: 0.3, -0.7).
GIVEN_DIGITS = 6

_ENGINE_ASIDE = re.compile(r"\s*\([^()]*engine[^()]*\)")


# -- names of the answers ------------------------------------------------------------------
def quantity_name(name: str, step: int, example: int, variant: Variant) -> str:
    """``name`` qualified by step and example where the exercise has several of them."""
    spec = variant.spec
    if spec.n_examples > 1 and example:
        name += f" (example {example})"
    if spec.steps > 1:
        name = f"step {step}: {name}"
    return name


def answers(variant: Variant) -> dict[str, float]:
    """Every quantity the sheet asks for, by its printed name, in working order."""
    if variant.conv:
        return conv_answers(variant)
    spec, record = variant.spec, variant.record
    asked_tasks = set(variant.tasks)
    out: dict[str, float] = {}
    fused = spec.fused
    L = spec.n_layers
    for step in record.steps:
        s = step.number
        for i, example in enumerate(step.examples, start=1):
            e = i if spec.n_examples > 1 else 0
            if "forward" in asked_tasks:
                for n in range(1, L + 1):
                    for j, (z, a) in enumerate(
                        zip(example.z[n - 1], example.a[n - 1], strict=True), start=1
                    ):
                        out[quantity_name(f"z{n}[{j}]", s, e, variant)] = float(z)
                        out[quantity_name(f"a{n}[{j}]", s, e, variant)] = float(a)
            if "loss" in asked_tasks and spec.n_examples > 1:
                out[quantity_name(f"L[{i}]", s, 0, variant)] = example.loss
            if "deltas" in asked_tasks:
                if not fused:
                    for j, g in enumerate(example.dL_da[-1], start=1):
                        out[quantity_name(f"dL/da{L}[{j}]", s, e, variant)] = float(g)
                for n in range(L, 0, -1):
                    for j, d in enumerate(example.delta[n - 1], start=1):
                        out[quantity_name(f"δ{n}[{j}]", s, e, variant)] = float(d)
        if "loss" in asked_tasks:
            out[quantity_name("L", s, 0, variant)] = step.loss
        for parameter in variant.asked:
            name = parameter.name
            n, j, k = parameter.layer - 1, parameter.row - 1, parameter.column
            if {"gradients", "paths"} & asked_tasks:
                grads = step.dW[n][j, k - 1] if parameter.kind == "W" else step.db[n][j]
                out[quantity_name(f"dL/d{name}", s, 0, variant)] = float(grads)
        if "update" in asked_tasks:
            for parameter in variant.asked:
                n, j, k = parameter.layer - 1, parameter.row - 1, parameter.column
                tensor = f"{parameter.kind}{parameter.layer}"
                if not spec.trainable(tensor):
                    continue
                new = step.W_new[n][j, k - 1] if parameter.kind == "W" else step.b_new[n][j]
                out[quantity_name(parameter.name, s, 0, variant)] = float(new)
    return out


def _entry(base: str, index: tuple[int, ...]) -> str:
    """A printed name from 0-based indices: ``_entry("z1", (0, 1, 2))`` is z1[1,2,3]."""
    return f"{base}[{','.join(str(i + 1) for i in index)}]"


def conv_answers(variant: Variant) -> dict[str, float]:
    """A convolutional spec's asked quantities, by the names ``explain`` prints for it:
    feature maps and pooled maps, the dense layers, L, what each layer hands down (a flatten
    layer's plain reshape left out), δ, dL/dx, the asked gradients and parameters."""
    spec, record = variant.spec, variant.record
    tasks = set(variant.tasks)
    kinds, L = spec.kinds, spec.n_layers
    out: dict[str, float] = {}

    def put(base: str, values: np.ndarray, s: int) -> None:
        for index in np.ndindex(*values.shape):
            out[quantity_name(_entry(base, index), s, 0, variant)] = float(values[index])

    for step in record.steps:
        s, example = step.number, step.examples[0]
        if "forward" in tasks:
            for n, kind in enumerate(kinds, start=1):
                if kind == "flatten":
                    continue  # a reshape: no arithmetic to ask for
                if example.z[n - 1] is not None:
                    put(f"z{n}", example.z[n - 1], s)
                put(f"a{n}", example.a[n - 1], s)
        if "loss" in tasks:
            out[quantity_name("L", s, 0, variant)] = step.loss
        if "deltas" in tasks:
            for n in range(L, 0, -1):
                reshaped = n < L and kinds[n] == "flatten"  # dL/da_n is dL/da_{n+1} reshaped
                hidden_dense = n < L and kinds[n - 1] == "dense"  # W^T δ: as dense sheets
                if example.dL_da[n - 1] is not None and not (reshaped or hidden_dense):
                    put(f"dL/da{n}", example.dL_da[n - 1], s)
                if kinds[n - 1] in ("conv2d", "dense"):
                    put(f"δ{n}", example.delta[n - 1], s)
        if "dx" in tasks and example.dL_dx.size:
            put("dL/dx", example.dL_dx, s)
        if {"gradients", "paths"} & tasks:
            for parameter in variant.asked:
                tensor = step.dW if parameter.kind == "W" else step.db
                value = tensor[parameter.layer - 1][tuple(i - 1 for i in parameter.index)]
                out[quantity_name(f"dL/d{parameter.name}", s, 0, variant)] = float(value)
        if "update" in tasks:
            for parameter in variant.asked:
                if not spec.trainable(f"{parameter.kind}{parameter.layer}"):
                    continue
                tensor = step.W_new if parameter.kind == "W" else step.b_new
                value = tensor[parameter.layer - 1][tuple(i - 1 for i in parameter.index)]
                out[quantity_name(parameter.name, s, 0, variant)] = float(value)
    return out


# -- the sheet -----------------------------------------------------------------------------
def sheet_document(variant: Variant, figure: str | None = None) -> doc.Document:
    """The problem sheet; ``figure``: the network diagram's path relative to the document."""
    spec = variant.spec
    blocks: list[doc.Block] = [
        doc.Paragraph(f"Student: {variant.student}. Variant: {variant.variant_id}."),
    ]
    if spec.description:
        blocks.append(doc.Paragraph(spec.description))
    if variant.conv:
        blocks += _conv_network(variant)
        blocks += _conv_givens(variant)
    else:
        blocks += _network(variant, figure)
        blocks += _givens(variant)
    blocks += _conventions(variant)
    blocks += _task_blocks(variant)
    return doc.Document(
        spec.title or "Backpropagation exercise",
        blocks,
        origin=f"Exercise sheet, variant {variant.variant_id}.",
    )


def _network(variant: Variant, figure: str | None) -> list[doc.Block]:
    spec = variant.spec
    widths = spec.widths
    shape = " -> ".join(
        [f"{widths[0]} inputs"]
        + [f"{w} ({layer.math.name})" for w, layer in zip(widths[1:], spec.layers, strict=True)]
    )
    blocks: list[doc.Block] = [
        doc.Heading("Network", 2),
        doc.Paragraph(f"Layers: {shape}."),
        doc.Paragraph(
            doc.prose(
                "Each layer computes $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$ and "
                "$a^{(l)} = f_l(z^{(l)})$, with $a^{(0)} = x$. $W^{(l)}$ has one row per "
                "neuron: $W^{(l)}_{j,k}$ connects input $k$ to neuron $j$ (indices from 1)."
            )
        ),
    ]
    if figure is not None:
        blocks.append(doc.Figure(figure, "The network with its weights and biases."))
    return blocks


def _given(value: float) -> str:
    return format_number(float(value), GIVEN_DIGITS)


def _givens(variant: Variant) -> list[doc.Block]:
    spec = variant.spec
    x, y = spec.x(), spec.y()
    blocks: list[doc.Block] = [doc.Heading("Given", 2)]
    for i in range(spec.n_examples):
        suffix = f" (example {i + 1})" if spec.n_examples > 1 else ""
        blocks.append(
            doc.Paragraph(
                [
                    doc.InlineCode(f"x{suffix} = [{', '.join(map(_given, x[i]))}]"),
                    ", ",
                    doc.InlineCode(f"y{suffix} = [{', '.join(map(_given, y[i]))}]"),
                ]
            )
        )
    for n, (W, b) in enumerate(zip(spec.weights(), spec.biases(), strict=True), start=1):
        header = ["neuron j"] + [f"W{n}[j,{k}]" for k in range(1, W.shape[1] + 1)] + [f"b{n}[j]"]
        rows = [[f"j = {j + 1}", *map(_given, W[j]), _given(b[j])] for j in range(W.shape[0])]
        blocks.append(doc.Table(header, rows, align="l" + "r" * (len(header) - 1)))
    return blocks


def _size(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _conv_network(variant: Variant) -> list[doc.Block]:
    """The layers in words: sizes, kernels, strides, padding, pooling windows."""
    spec = variant.spec
    shapes = spec.shapes
    parts = [f"image {_size(shapes[0])}"]
    for n, (layer, engine) in enumerate(zip(spec.layers, spec.engine_layers(), strict=True), 1):
        if layer.type == "conv2d":
            W = spec.weights()[n - 1]
            (top, _), (left, _) = engine.pads
            padding = f", zero padding {top}" if top or left else ""
            what = (
                f"conv {W.shape[0]} filter{'s' * (W.shape[0] != 1)} {_size(W.shape[2:])}, stride "
                f"{engine.stride[0]}{padding}, {layer.math.name}"
            )
        elif layer.type in ("max_pool2d", "avg_pool2d"):
            kind = "max" if layer.is_max else "average"
            what = f"{kind} pool {_size(engine.pool_size)}, stride {engine.stride[0]}"
        elif layer.type == "flatten":
            what = "flatten"
        else:
            what = f"dense {layer.math.name}"
        parts.append(f"{_size(shapes[n])} ({what})")
    return [
        doc.Heading("Network", 2),
        doc.Paragraph(
            [*doc.prose("Layers, layer $l$ giving $a^{(l)}$ ($a^{(0)} = x$): "), " -> ".join(parts)]
        ),
        doc.Paragraph(
            doc.prose(
                "Indices count from 1. A feature map entry is $a^{(l)}_{c,i,j}$ (channel, row, "
                "column), a kernel entry $W^{(l)}_{o,c,p,q}$ (filter, input channel, row, "
                "column). A dense layer computes $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$, its "
                "$W^{(l)}$ one row per neuron."
            )
        ),
    ]


def _grid(label: str, values: np.ndarray) -> doc.Table:
    """A 2-D map as a table, rows and columns numbered from 1."""
    header = [label] + [f"col {q}" for q in range(1, values.shape[1] + 1)]
    rows = [[f"row {p + 1}", *map(_given, values[p])] for p in range(values.shape[0])]
    return doc.Table(header, rows, align="l" + "r" * values.shape[1])


def _conv_givens(variant: Variant) -> list[doc.Block]:
    spec = variant.spec
    x, y = spec.x()[0], spec.y()[0]
    blocks: list[doc.Block] = [doc.Heading("Given", 2)]
    for c in range(x.shape[0]):
        blocks.append(_grid(f"x[{c + 1},:,:]", x[c]))
    blocks.append(doc.Paragraph([doc.InlineCode(f"y = [{', '.join(map(_given, y))}]")]))
    for n, (W, b) in enumerate(zip(spec.weights(), spec.biases(), strict=True), start=1):
        if W is None:
            continue
        if W.ndim == 4:
            for o, c in np.ndindex(*W.shape[:2]):
                blocks.append(_grid(f"W{n}[{o + 1},{c + 1},:,:]", W[o, c]))
            biases = ", ".join(f"b{n}[{o + 1}] = {_given(b[o])}" for o in range(len(b)))
            blocks.append(doc.Paragraph([doc.InlineCode(biases)]))
            continue
        header = ["neuron j"] + [f"W{n}[j,{k}]" for k in range(1, W.shape[1] + 1)] + [f"b{n}[j]"]
        rows = [[f"j = {j + 1}", *map(_given, W[j]), _given(b[j])] for j in range(W.shape[0])]
        blocks.append(doc.Table(header, rows, align="l" + "r" * (len(header) - 1)))
    return blocks


def _conv_rules(variant: Variant) -> list[doc.Block]:
    """How the convolution, pooling and flatten layers compute, forward and backward."""
    spec = variant.spec
    kinds = set(spec.kinds)
    rules = [
        "Convolution (a cross-correlation: the kernel is not flipped): "
        "$z^{(l)}_{o,i,j} = \\sum_{c,p,q} a^{(l-1)}_{c,\\,s(i-1)+p,\\,s(j-1)+q}\\, "
        "W^{(l)}_{o,c,p,q} + b^{(l)}_o$ with stride $s$, the input read zero-padded where the "
        "layer pads, then $a^{(l)} = f(z^{(l)})$ pixel by pixel.",
        "Its gradients: $\\partial L/\\partial W^{(l)}_{o,c,p,q} = \\sum_{i,j} \\delta^{(l)}_{o,i,j}"
        "\\, a^{(l-1)}_{c,\\,s(i-1)+p,\\,s(j-1)+q}$, $\\partial L/\\partial b^{(l)}_o = "
        "\\sum_{i,j} \\delta^{(l)}_{o,i,j}$, and the gradient for its input, "
        "$\\partial L/\\partial a^{(l-1)}$ ($\\partial L/\\partial x$ for the first layer): the "
        "full convolution of $\\delta^{(l)}$ (spread out by the stride) with the kernel flipped, "
        "the padding cropped off.",
    ]
    if "max_pool2d" in kinds:
        rules.append(
            "Max pooling passes on each window's largest entry; its gradient goes back to that "
            "entry only (0 to the others). No window of your numbers has two equal maxima."
        )
    if "avg_pool2d" in kinds:
        rules.append(
            "Average pooling passes on each window's mean; its gradient is shared equally, "
            "$1/P$ of it to each of the window's $P$ entries (summed where windows overlap)."
        )
    if "flatten" in kinds:
        rules.append(
            "Flatten reads the feature maps row by row, channel after channel: "
            "$a^{(l)}_{(c-1)HW + (i-1)W + j} = a^{(l-1)}_{c,i,j}$."
        )
    return [doc.Paragraph(doc.prose(rule)) for rule in rules]


def _conventions(variant: Variant) -> list[doc.Block]:
    spec = variant.spec
    blocks: list[doc.Block] = [doc.Heading("Conventions", 2)]
    if variant.conv:
        blocks += _conv_rules(variant)
    seen: set[str] = set()
    formulas = []
    for layer in spec.layers:
        if not hasattr(layer, "math"):
            continue  # pooling and flatten: no activation
        math = layer.math
        if math.name in seen:
            continue
        seen.add(math.name)
        for notation in (math.definition, math.derivative_definition):
            text = _ENGINE_ASIDE.sub("", notation.text)
            formulas.append(doc.Equation(doc.Math(notation.tex, text)))
    blocks.append(doc.Paragraph("Activations and their derivatives:"))
    blocks.append(doc.Equations(formulas, aligned=False))
    sentence, formula = loss_convention(spec)
    blocks.append(doc.Paragraph(f"Loss: {sentence}."))
    blocks.append(doc.Equations([doc.Equation(doc.Math.of(formula))], aligned=False))
    if spec.fused:
        blocks.append(
            doc.Paragraph(
                doc.prose(
                    "The output activation and the loss are taken together: "
                    f"$\\delta^{{({spec.n_layers})}} = \\partial L / \\partial z^{{({spec.n_layers})}}$ "
                    "directly."
                )
            )
        )
    elif spec.layers[-1].activation_name == "softmax":
        blocks.append(
            doc.Paragraph(
                "The output delta goes through the softmax Jacobian: first dL/da, then δ."
            )
        )
    optimizer = spec.optimizer.make().math.short_name
    blocks.append(doc.Paragraph(f"Update ({optimizer}):"))
    rules = [doc.Equation(doc.Math.of(rule)) for rule in update_formulas(spec)]
    blocks.append(doc.Equations(rules, aligned=False))
    frozen = [name for name in spec.parameter_names() if not spec.trainable(name)]
    trained = "biases are trained" if spec.update.biases else "biases are frozen"
    extra = f"; not updated: {', '.join(frozen)}" if frozen else ""
    blocks.append(
        doc.Paragraph(
            f"Weights {'are' if spec.update.weights else 'are not'} trained, {trained}{extra}."
        )
    )
    if spec.n_examples > 1:
        blocks.append(
            doc.Paragraph(
                f"A batch of {spec.n_examples} examples: L and every gradient are means over them."
            )
        )
    if spec.steps > 1:
        blocks.append(
            doc.Paragraph(f"{spec.steps} steps, each from the parameters of the one before.")
        )
    decimals = variant.settings.guard.decimals
    blocks.append(doc.Paragraph(f"Give every answer rounded to {decimals} decimal places."))
    return blocks


_TASK_TEXT = {
    "forward": "Forward pass: compute z and a of every neuron, layer by layer.",
    "loss": "Loss: compute L.",
    "deltas": "Backward pass: compute δ = dL/dz of every neuron, from the output layer back.",
    "dx": "Gradient for the image: compute dL/dx of every pixel.",
    "gradients": "Gradients: compute each gradient below.",
    "update": "Update: compute each parameter below after the step.",
    "paths": "Chain-rule paths: write every path from L to the parameter(s) below as a product "
    "of local derivatives, evaluate each, and check that they add up to the gradient.",
}


#: A convolutional sheet's wording where it differs.
_CONV_TASK_TEXT = {
    "forward": "Forward pass: compute every feature map (z and a), pooled map and dense "
    "neuron, layer by layer.",
    "deltas": "Backward pass: compute what each layer hands down (dL/da) and δ = dL/dz of "
    "every convolution pixel and neuron, from the output layer back.",
}


def _task_blocks(variant: Variant) -> list[doc.Block]:
    """Numbered tasks, each with its blanks (the answers' names, values left out)."""
    names = list(answers(variant))
    blocks: list[doc.Block] = [doc.Heading("Tasks", 2)]
    if variant.conv:
        blocks.append(
            doc.Paragraph(
                "A map's blanks form a grid: the entry in row 2, column 3 of z1[1,i,j] is "
                "z1[1,2,3], the name to answer it under (likewise p, q of a kernel)."
            )
        )
    for number, task in enumerate(variant.tasks, start=1):
        text = _CONV_TASK_TEXT.get(task, _TASK_TEXT[task]) if variant.conv else _TASK_TEXT[task]
        blocks.append(doc.Paragraph(f"{number}. {text}"))
        mine = [name for name in names if _task_of(name) == task]
        if task == "paths":
            mine = [f"dL/d{text}" for text in variant.settings.weights]
        if mine and variant.conv:
            blocks += _blank_grids(mine)
        elif mine:
            rows = [[name, BLANK] for name in mine]
            blocks.append(doc.Table(["quantity", "your answer"], rows, align="lr"))
    return blocks


_MAP_ENTRY = re.compile(r"^(?P<base>.+)\[(?P<index>\d+(?:,\d+){2,})\]$")


def _blank_grids(names: list[str]) -> list[doc.Block]:
    """A convolutional sheet's blanks: each map (or kernel) as a grid of blanks headed by
    its name with i, j (p, q) left open, rows and columns numbered from 1; single numbers
    (dense neurons, L, biases) in a quantity table, in working order."""
    blocks: list[doc.Block] = []
    single: list[list[str]] = []
    grids: dict[str, dict[tuple[int, int], str]] = {}
    order: list[str] = []

    def sparse(label: str) -> bool:
        """A few entries of a map (--weights): a list, not a grid with holes."""
        cells = grids[label]
        return len(cells) < max(i for i, _ in cells) * max(j for _, j in cells)

    def flush() -> None:
        if single:
            blocks.append(doc.Table(["quantity", "your answer"], list(single), align="lr"))
            single.clear()
        for label in order:
            cells = grids[label]
            rows = max(i for i, _ in cells)
            columns = max(j for _, j in cells)
            if sparse(label):
                rows_asked = [[cells[key], BLANK] for key in sorted(cells)]
                blocks.append(doc.Table(["quantity", "your answer"], rows_asked, align="lr"))
                continue
            body = [
                [f"row {i}", *(BLANK if (i, j) in cells else "" for j in range(1, columns + 1))]
                for i in range(1, rows + 1)
            ]
            header = [label] + [f"col {j}" for j in range(1, columns + 1)]
            blocks.append(doc.Table(header, body, align="l" + "r" * columns))
        grids.clear()
        order.clear()

    for name in names:
        match = _MAP_ENTRY.match(name)
        if match is None:
            if order and all(sparse(label) for label in order):  # one list with them
                single += [[grids[label][key], BLANK] for label in order for key in grids[label]]
                grids.clear()
                order.clear()
            elif order:
                flush()
            single.append([name, BLANK])
            continue
        if single:
            flush()
        index = match.group("index").split(",")
        kernel = re.search(r"(?:^|/d)W\d+$", match.group("base"))  # W1[o,c,p,q], dL/dW1[...]
        open_axes = "p,q" if kernel else "i,j"
        label = f"{match.group('base')}[{','.join(index[:-2])},{open_axes}]"
        if label not in grids:
            grids[label] = {}
            order.append(label)
        grids[label][(int(index[-2]), int(index[-1]))] = name
    flush()
    return blocks


def _task_of(name: str) -> str:
    bare = name.split(": ", 1)[-1]
    if bare.startswith(("z", "a")):
        return "forward"
    if bare.startswith("L"):
        return "loss"
    if bare.startswith(("δ", "dL/da")):
        return "deltas"
    if bare.startswith("dL/dx"):
        return "dx"
    if bare.startswith("dL/d"):
        return "gradients"
    return "update"


# -- the key -------------------------------------------------------------------------------
def key_document(variant: Variant, fmt: str) -> doc.Document:
    """``explain``'s worked document of the variant (its matrices drawn the ``fmt`` way)."""
    worked = worked_document(variant.record, fmt, digits=max(4, variant.settings.guard.decimals))
    intro = doc.Paragraph(f"Answer key. Student: {variant.student}. Variant: {variant.variant_id}.")
    return doc.Document(
        f"{worked.title}: answer key",
        [intro, *worked.blocks],
        origin=f"Answer key, variant {variant.variant_id}, written by chainrule exercise.",
    )


def answers_file(variant: Variant, seed: int) -> dict[str, Any]:
    """The machine-readable answers: who, which variant, the spec drawn, every value."""
    return {
        "student": variant.student,
        "variant": variant.variant_id,
        "seed": seed,
        "draw": variant.draw,
        "decimals": variant.settings.guard.decimals,
        "tasks": list(variant.tasks),
        "spec": variant.raw,
        "answers": answers(variant),
    }


def diagram(variant: Variant, path_without_suffix: Path) -> Path:
    """The network diagram with its numbers, as PNG; the engine's storage note left out."""
    from chainrule.explain.graph import network_figure
    from chainrule.reporting.figures import save_figure

    figure = network_figure(variant.spec.to_model(), digits=variant.settings.draw.decimals)
    for text in figure.axes[0].texts:
        content = text.get_text()
        if "engine" in content:
            text.set_text(
                re.sub(r"\s*\(textbook[^)]*\)", "", content).replace(
                    "input i.", "input i (indices from 1)."
                )
            )
    return save_figure(figure, path_without_suffix, ("png",), dpi=110)[0]


def given_values(variant: Variant) -> np.ndarray:
    """Every number the sheet gives (x, y, W, b): the test that no answer leaks skips these."""
    spec = variant.spec
    parts = [spec.x().ravel(), spec.y().ravel()]
    parts += [W.ravel() for W in spec.weights() if W is not None]
    parts += [b.ravel() for b in spec.biases() if b is not None]
    return np.concatenate(parts)
