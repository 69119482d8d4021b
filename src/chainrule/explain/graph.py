"""Computation graphs and network diagrams of a model.

Three pictures of one ``Sequential`` model:

* the **forward computation graph**: x → z₁ = x W₁ + b₁ → a₁ = f₁(z₁) → … → L, with the
  parameters W_l, b_l feeding their z_l and the target y feeding the loss;
* the **backward graph**: the same nodes, with the gradient flowing back along reversed edges,
  each labelled with its local derivative (f'(z_l), · W_lᵀ to the layer below, a_{l−1}ᵀ · for
  ∂L/∂W_l, column sums for ∂L/∂b_l); softmax + cross-entropy (and sigmoid + binary
  cross-entropy) appear as the one fused edge (a − y)/m into the logits, as the engine
  computes them;
* the **network diagram**: neurons as circles in columns and every weight on its connection,
  in textbook indexing w_ji (to neuron j from input i, 1-based; the engine stores it as
  ``W[i-1, j-1]``), coloured by sign, thickness by magnitude. Small networks only.

The graphs come as Graphviz DOT text (:func:`graph_dot`); :func:`render_graph` draws them with
Graphviz's ``dot`` when it is installed and with matplotlib (a layered left-to-right layout of
the same nodes and labelled edges) when it is not. Every file is written atomically.
Labels use the per-example lowercase names (x, z₁, a₁) and the engine's layout z = x W + b.
"""

from __future__ import annotations

import itertools
import math
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from chainrule.explain.derivation import (
    LAYER_MATH_KINDS,
    NetworkPlan,
    Step,
    Tensor,
    activation_math,
    backward_steps,
    layer_fields,
    layer_math,
    loss_math,
    network_plan,
)
from chainrule.nn.layers import Activation, Dense, Dropout, Flatten, MaxPool2D
from chainrule.nn.model import Sequential
from chainrule.reporting.figures import save_figure
from chainrule.reporting.tex_text import tex_to_text
from chainrule.utils.atomic import atomic_write, atomic_write_text
from chainrule.utils.validation import check_integer

__all__ = [
    "ENGINES",
    "MAX_DIAGRAM_UNITS",
    "GraphEdge",
    "GraphNode",
    "WeightEdge",
    "computation_graph",
    "graph_dot",
    "graph_figure",
    "network_diagram",
    "network_edges",
    "network_figure",
    "render_graph",
]

ENGINES = ("auto", "graphviz", "matplotlib")
GRAPH_FORMATS = ("svg", "png", "pdf", "dot")
MAX_DIAGRAM_UNITS = 16
#: Above this many connections between two layers the diagram shows weights by colour only.
MAX_LABELLED_CONNECTIONS = 64
DOT_TIMEOUT_S = 60.0

_FILL = {
    "input": "#dbe9f6",
    "target": "#dbe9f6",
    "param": "#fde9d2",
    "mask": "#eeeeee",
    "loss": "#f8d7d5",
}
_FORWARD_COLOR = "#333333"
_CONTEXT_COLOR = "#b8b8b8"
_BACKWARD_COLOR = "#c0392b"


# --------------------------------------------------------------------------- the graph


@dataclass(frozen=True)
class GraphNode:
    key: str  # the DOT node id: x, a0, z1, a1, a1_drop, W1, b1, M1, y, loss
    label: str  # plain Unicode, lines separated by "\n"
    role: str  # the tensor's role (input, pre, act, param, mask, target, loss …)


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    label: str = ""
    backward: bool = False


def computation_graph(
    model: Sequential, backward: bool = False
) -> tuple[list[GraphNode], list[GraphEdge]]:
    """The nodes and edges both renderers draw: forward edges, plus the backward ones."""
    plan = network_plan(model)
    if backward and plan.loss is None:
        raise ValueError(
            "the backward graph needs a model with a loss (pass loss=... to Sequential)"
        )
    edges = _forward_edges(plan, labelled=not backward)
    if backward:
        edges += _backward_edges(plan)
    reached = {edge.target for edge in edges if edge.backward}
    nodes = [
        _node(plan, tensor, tensor.key in reached)
        for tensor in plan.tensors.values()
        if tensor.drawn
    ]
    return nodes, edges


def _lower(tex: str) -> str:
    """Batch-matrix symbols to per-example ones: Z_1 -> z_1, \\tilde{A}_1 -> \\tilde{a}_1."""
    return re.sub(r"(?<![\\A-Za-z])([AFPXYZ])(?![A-Za-z])", lambda m: m.group(1).lower(), tex)


def _symbol(tensor: Tensor) -> str:
    tex = tensor.tex if tensor.role in ("param", "mask", "loss") else _lower(tensor.tex)
    return tex_to_text(tex)


def _shape_text(tensor: Tensor) -> str:
    return "×".join(str(d) for d in tensor.shape)


def _node(plan: NetworkPlan, tensor: Tensor, has_gradient: bool) -> GraphNode:
    name = _symbol(tensor)
    step = next((s for s in plan.steps if s.output == tensor.key), None)
    if step is None or step.kind == "loss":
        first = name
    elif step.kind == "dense":
        source = _symbol(plan.tensors[step.source])
        weight, *bias = (_symbol(plan.tensors[p]) for p in step.params)
        terms = f"{source}{weight}" + (f" + {bias[0]}" if bias else "")
        first = f"{name} = {terms}"
    elif step.kind == "activation":
        source = _lower(plan.tex(step.source))
        first = f"{name} = {tex_to_text(activation_math(step.layer).batch.format(z=source))}"
    elif step.kind == "dropout":
        first = (
            f"{name} = {_symbol(plan.tensors[step.source])} ⊙ {_symbol(plan.tensors[step.mask])}"
        )
    elif step.kind == "im2col":
        first = f"{name} = im2col({_symbol(plan.tensors[step.source])})"
    elif step.kind == "conv":
        kernels, columns = (_symbol(plan.tensors[step.fields[k]]) for k in ("Wh", "cols"))
        bias = f" + {_symbol(plan.tensors[step.fields['b']])}" if "b" in step.fields else ""
        first = f"{name} = {kernels}{columns}{bias}"
    elif step.kind == "pool":
        kind = "maxpool" if isinstance(step.layer, MaxPool2D) else "avgpool"
        first = f"{name} = {kind}({_symbol(plan.tensors[step.source])})"
    elif step.kind == "batchnorm":
        gamma, beta, standardized = (
            _symbol(plan.tensors[step.fields[k]]) for k in ("gamma", "beta", "xhat")
        )
        first = f"{name} = {gamma} ⊙ {standardized} + {beta}"
    elif step.kind == "layer":  # any other layer that gives its equations: its output's
        values = _label_fields(plan, step, True)
        row = next((r for r in layer_math(step.layer).forward if r.lhs == "{out}"), None)
        formula = tex_to_text(row.rhs.format(**values)) if row else step.layer.name
        first = f"{name} = {formula}"
    else:  # flatten
        first = f"{name} = reshape({_symbol(plan.tensors[step.source])})"
    lines = [first]
    if tensor.role == "loss":
        lines.append(_loss_name(plan))
    elif tensor.role == "mask":
        lines += ["dropout mask", f"({_shape_text(tensor)})"]
    elif tensor.role == "param" and len(tensor.shape) == 1:
        lines.append(f"({tensor.shape[0]})")
    else:
        lines.append(f"({_shape_text(tensor)})")
    lines += _detail_lines(plan, tensor, step)
    if has_gradient:
        lines.append(_gradient_line(plan, tensor, name))
    return GraphNode(tensor.key, "\n".join(lines), tensor.role)


def _detail_lines(plan: NetworkPlan, tensor: Tensor, step: Step | None) -> list[str]:
    """What a convolution's kernels and a BatchNorm's output add: Ŵ's shape, x̂'s formula."""
    owner = next((s for s in plan.steps if s.kind == "conv" and tensor.key in s.params), None)
    if owner is not None and tensor.key == owner.fields["W"]:
        view = plan.tensors[owner.fields["Wh"]]
        return [f"as {_symbol(view)}: {_shape_text(view)}"]
    if step is not None and step.kind == "batchnorm":
        description = layer_math(step.layer)
        values = _label_fields(plan, step, True)
        row = next(r for r in description.forward if r.lhs == "{xhat}")
        return [
            f"{tex_to_text(row.lhs.format(**values))} = {tex_to_text(row.rhs.format(**values))}"
        ]
    return []


def _label_fields(plan: NetworkPlan, step: Step, needed: bool) -> dict:
    """The step's ``LayerMath`` fields with the graph's per-example (lowercase) symbols."""
    values = layer_fields(plan, step, needed)
    return {k: _lower(v) if isinstance(v, str) else v for k, v in values.items()}


def _gradient_line(plan: NetworkPlan, tensor: Tensor, name: str) -> str:
    """What the backward pass computes at this node."""
    delta = f"δ{_subscript(tensor.stage)}"
    if tensor.role == "pre":
        return f"{delta} = ∂L/∂{name}"
    owner = next(
        (s for s in plan.steps if s.kind in LAYER_MATH_KINDS and tensor.key in s.params), None
    )
    if owner is not None:
        field = next(f for f, key in owner.fields.items() if key == tensor.key)
        values = _label_fields(plan, owner, True)
        row = next((r for r in layer_math(owner.layer).backward if r.node == field), None)
        if row is None:
            return f"∂L/∂{name}"
        return f"{tex_to_text(row.lhs.format(**values))} = {tex_to_text(row.rhs.format(**values))}"
    if tensor.role == "param":
        dense = next(s for s in plan.steps if s.kind == "dense" and tensor.key in s.params)
        if tensor.key == dense.params[0]:
            return f"∂L/∂{name} = {_symbol(plan.tensors[dense.source])}ᵀ{delta}"
        return f"∂L/∂{name} = 1ᵀ{delta}"
    return f"∂L/∂{name}"


def _subscript(index: int) -> str:
    return tex_to_text(f"_{{{index}}}")


def _loss_name(plan: NetworkPlan) -> str:
    """The loss's short name from its math description ("MSE (mean)", "cross-entropy")."""
    description = plan.loss.math
    return type(plan.loss).__name__ if description is None else description.short_name


def _forward_edges(plan: NetworkPlan, labelled: bool) -> list[GraphEdge]:
    edges = []
    for step in plan.steps:
        label = ""
        if step.kind == "dense":
            inputs = [step.source, *step.params]
        elif step.kind == "dropout":
            inputs = [step.source, step.mask]
            label = "dropout"
        elif step.kind == "loss":
            # The fused loss is computed from the logits; drawn from the output as usual.
            inputs = [plan.output, "y"]
            label = _loss_name(plan)
        elif step.kind in ("conv", "batchnorm", "layer"):
            inputs = [step.source, *step.params]
            label = {"batchnorm": "batch norm", "conv": ""}.get(step.kind)
            if label is None:
                label = layer_math(step.layer).name
        elif step.kind == "pool":
            inputs = [step.source]
            (ph, pw), kind = step.layer.pool_size, layer_math(step.layer).name
            label = f"{kind} {ph}×{pw}"
        else:
            inputs = [step.source]
            label = {"flatten": "reshape", "im2col": "im2col"}.get(step.kind) or activation_math(
                step.layer
            ).name
        for index, source in enumerate(inputs):
            text = label if labelled and index == 0 else ""
            edges.append(GraphEdge(source, step.output, text))
    return edges


def _backward_edges(plan: NetworkPlan) -> list[GraphEdge]:
    """The gradient's path, each edge labelled with the local derivative it multiplies by."""
    edges = []
    loss = loss_math(plan)
    if plan.fused:
        pair = plan.loss.math.fused.pair  # "softmax + CE"
        gradient = tex_to_text(_lower(_count_outputs(loss.gradient, plan.num_outputs)))
        label = f"{gradient}\n({pair} fused)"
        edges.append(GraphEdge("loss", plan.logits, label, True))
    else:
        gradient = tex_to_text(_lower(_count_outputs(loss.gradient, plan.num_outputs)))
        edges.append(
            GraphEdge(
                "loss", plan.output, f"∂L/∂{_symbol(plan.tensors[plan.output])} = {gradient}", True
            )
        )
    # Walk the steps backwards from where the gradient enters, skipping the fused activation
    # and the input gradient of the first layer with parameters: nothing below needs it.
    for step, needed in backward_steps(plan):
        output, source = step.output, step.source
        if step.kind in LAYER_MATH_KINDS or step.kind == "im2col":
            edges += _layer_edges(plan, step, needed)
            continue
        if step.kind == "activation":
            edges.append(GraphEdge(output, source, _activation_label(plan, step), True))
        elif step.kind == "dropout":
            edges.append(GraphEdge(output, source, f"⊙ {_symbol(plan.tensors[step.mask])}", True))
        elif step.kind == "dense":
            weight = _symbol(plan.tensors[step.params[0]])
            before = _symbol(plan.tensors[source])
            edges.append(GraphEdge(output, step.params[0], f"{before}ᵀ ·", True))
            if len(step.params) > 1:
                edges.append(GraphEdge(output, step.params[1], "1ᵀ ·", True))
            if needed:
                edges.append(GraphEdge(output, source, f"· {weight}ᵀ", True))
    return edges


def _layer_edges(plan: NetworkPlan, step: Step, needed: bool) -> list[GraphEdge]:
    """The backward edges of a layer described by a ``LayerMath`` (a convolution, pooling,
    BatchNorm, Flatten, or any other), each labelled with the local derivative it gives."""
    labels = layer_math(step.layer).edges
    values = _label_fields(plan, step, needed)

    def edge(target_field: str, source: str) -> GraphEdge:
        label = tex_to_text(labels[target_field].format(**values))
        return GraphEdge(source, step.fields[target_field], label, True)

    if step.kind == "im2col":  # the convolution's own second half: X̂ back onto x
        return [edge("x", step.output)] if needed else []
    params = [field for field, key in step.fields.items() if key in step.params]
    edges = [edge(field, step.output) for field in params if field in labels]
    if needed:
        edges.append(edge("cols" if step.kind == "conv" else "x", step.output))
    return edges


def _count_outputs(tex: str, k: int) -> str:
    """m k with this model's k: (m k) -> m for one output, (10m) for ten."""
    return tex.replace("(m k)", "m" if k == 1 else f"({k}m)")


def _activation_label(plan: NetworkPlan, step) -> str:
    info = activation_math(step.layer)
    z, a = _lower(plan.tex(step.source)), _lower(plan.tex(step.output))
    if not info.elementwise:
        return tex_to_text(info.rowwise.batch_jacobian.format(a=a)) + " (Jacobian)"
    if info.batch_derivative is None:
        return "⊙ 1"
    return f"⊙ f'({tex_to_text(z)})\n= {tex_to_text(info.batch_derivative.format(z=z, a=a))}"


# --------------------------------------------------------------------------- DOT


def graph_dot(model: Sequential, backward: bool = False) -> str:
    """The forward (or, with ``backward=True``, backward) computation graph as Graphviz DOT."""
    nodes, edges = computation_graph(model, backward)
    title = "backward pass: gradients flow right to left" if backward else "forward pass"
    lines = [
        "digraph chainrule {",
        f"  graph [rankdir=LR, nodesep=0.35, ranksep=0.5, fontname=Helvetica, "
        f'label="{_dot_escape(title)}", labelloc=t];',
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname=Helvetica, '
        "fontsize=11];",
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    for node in nodes:
        fill = _FILL.get(node.role, "#ffffff")
        lines.append(f'  "{node.key}" [label="{_dot_escape(node.label)}", fillcolor="{fill}"];')
    for edge in edges:
        attributes = []
        if edge.label:
            attributes.append(f'label="{_dot_escape(edge.label)}"')
        if edge.backward:
            attributes += [
                f'color="{_BACKWARD_COLOR}"',
                f'fontcolor="{_BACKWARD_COLOR}"',
                "constraint=false",
                "penwidth=1.4",
            ]
        elif backward:
            attributes.append(f'color="{_CONTEXT_COLOR}"')
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f'  "{edge.source}" -> "{edge.target}"{suffix};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# --------------------------------------------------------------------------- rendering


def render_graph(
    model: Sequential,
    out_path_without_suffix: str | Path,
    backward: bool = False,
    formats: Sequence[str] = ("svg", "png"),
    engine: str = "auto",
    timeout: float = DOT_TIMEOUT_S,
) -> list[Path]:
    """Write the computation graph as ``<path>.<format>`` for each format; return the paths.

    ``engine="auto"`` uses Graphviz's ``dot`` when it is on the PATH and matplotlib otherwise;
    ``"graphviz"`` insists on ``dot``, ``"matplotlib"`` never calls it. ``"dot"`` among the
    formats writes the DOT text itself.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    formats = tuple(formats)
    if not formats or any(fmt not in GRAPH_FORMATS for fmt in formats):
        raise ValueError(f"formats may contain {', '.join(GRAPH_FORMATS)}; got {formats!r}")
    base = Path(out_path_without_suffix)
    if base.suffix.lstrip(".").lower() in GRAPH_FORMATS:
        raise ValueError(
            f"out_path_without_suffix should not end in a format suffix, got {str(base)!r}; "
            f"pass {str(base.with_suffix(''))!r} and choose formats with formats=..."
        )
    dot = shutil.which("dot")
    if engine == "graphviz" and dot is None:
        raise RuntimeError(
            "engine='graphviz' needs Graphviz's 'dot' program, which is not on the PATH; "
            "install Graphviz (e.g. apt-get install graphviz) or use engine='matplotlib'"
        )
    text = graph_dot(model, backward)
    images = [fmt for fmt in formats if fmt != "dot"]
    written: dict[str, Path] = {}
    if "dot" in formats:
        written["dot"] = atomic_write_text(_with_suffix(base, "dot"), text)
    if images and dot is not None and engine != "matplotlib":
        for fmt in images:
            target = _with_suffix(base, fmt)
            written[fmt] = atomic_write(
                target, lambda temporary, f=fmt: _run_dot(dot, text, f, temporary, timeout)
            )
    elif images:
        figure = graph_figure(model, backward)
        written.update(zip(images, save_figure(figure, base, images), strict=True))
    return [written[fmt] for fmt in formats]


def _with_suffix(base: Path, fmt: str) -> Path:
    return base.with_name(f"{base.name}.{fmt}")


def _run_dot(dot: str, text: str, fmt: str, output: Path, timeout: float) -> None:
    command = [dot, f"-T{fmt}", "-o", str(output)]
    try:
        result = subprocess.run(
            command, input=text.encode("utf-8"), capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"Graphviz's dot did not finish rendering {fmt} within {timeout:g} s; try "
            "engine='matplotlib'"
        ) from None
    except OSError as error:
        raise RuntimeError(f"could not run Graphviz's dot ({dot}): {error}") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip() or "no message"
        raise RuntimeError(
            f"Graphviz's dot failed rendering {fmt} (exit status {result.returncode}): "
            f"{message[:500]}"
        )
    if not output.exists() or output.stat().st_size == 0:
        raise RuntimeError(f"Graphviz's dot wrote no {fmt} output")


# --------------------------------------------------------------------------- matplotlib layout

_GAP_IN = 0.9  # inches between neighbouring boxes of the main chain, at least
_NODE_FONT = 9.5
_EDGE_FONT = 8.5


def graph_figure(model: Sequential, backward: bool = False) -> Figure:
    """The computation graph drawn with matplotlib, laid out in inches.

    The main chain (x, z₁, a₁, …, L) runs left to right on one row; parameters, dropout masks
    and the target sit above the node they feed. In the backward graph the forward edges turn
    grey and the gradient's edges (red) arc back below the chain and up to the parameters.
    """
    nodes, edges = computation_graph(model, backward)
    plan = network_plan(model)
    sizes = _measure([node.label for node in nodes], _NODE_FONT)
    size = {node.key: (w + 0.3, h + 0.22) for node, (w, h) in zip(nodes, sizes, strict=True)}
    label_size = dict(
        zip(
            (edge for edge in edges if edge.label),
            _measure([edge.label for edge in edges if edge.label], _EDGE_FONT),
            strict=True,
        )
    )
    chain = ["x", *(s.output for s in plan.steps)]
    position: dict[str, tuple[float, float]] = {}
    x = 0.0
    for index, key in enumerate(chain):
        if index:
            previous = chain[index - 1]
            between = [
                label_size[e][0]
                for e in edges
                if e.label and {e.source, e.target} == {previous, key}
            ]
            gap = max([_GAP_IN, *(w + 0.3 for w in between)])
            x += size[previous][0] / 2 + gap + size[key][0] / 2
        position[key] = (x, 0.0)
    chain_height = max(size[key][1] for key in chain)
    side_height = max((size[n.key][1] for n in nodes if n.key not in position), default=0.0)
    side_y = chain_height / 2 + 1.0 + side_height / 2
    for step in plan.steps:  # parameters, masks and the target sit above the node they feed
        side = [*step.params, *([step.mask] if step.mask else [])]
        widths = [size[key][0] for key in side]
        left = position[step.output][0] - (sum(widths) + 0.35 * (len(side) - 1)) / 2
        for key, width in zip(side, widths, strict=True):
            position[key] = (left + width / 2, side_y)
            left += width + 0.35
    _separate(position, size, [key for key in position if key not in chain])

    arcs = [e for e in edges if e.backward and e.target in chain and e.source in chain]
    depth = max((abs(position[e.target][0] - position[e.source][0]) for e in arcs), default=0)
    lowest = min((-chain_height / 2 - 0.5 * _ARC * depth - 0.45 for _ in arcs[:1]), default=-1.0)
    xs = [position[key][0] + sign * size[key][0] / 2 for key in position for sign in (-1, 1)]
    left, right = min(xs) - 0.4, max(xs) + 0.4
    bottom, top = min(lowest, -chain_height / 2 - 0.3), side_y + side_height / 2 + 0.7
    figure = Figure(figsize=(right - left, top - bottom))
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))  # one data unit is one inch in x and in y
    axes.set_xlim(left, right)
    axes.set_ylim(bottom, top)
    axes.axis("off")
    title = (
        "Backward pass: the gradient (red) flows right to left; each edge multiplies by its "
        "local derivative"
        if backward
        else "Forward pass"
    )
    axes.text((left + right) / 2, top - 0.15, title, ha="center", va="top", fontsize=11.5)
    boxes = {}
    for node in nodes:
        (x, y), (w, h) = position[node.key], size[node.key]
        axes.text(x, y, node.label, ha="center", va="center", fontsize=_NODE_FONT, zorder=4)
        boxes[node.key] = FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=0.1",
            facecolor=_FILL.get(node.role, "#ffffff"),
            edgecolor="#555555",
            linewidth=1.0,
            zorder=3,
        )
        axes.add_patch(boxes[node.key])
    for edge in edges:
        _draw_edge(axes, edge, position, boxes, backward, on_chain=edge in arcs)
    return figure


_ARC = 0.3  # curvature of the backward arcs below the chain


def _separate(position, size, keys: list[str], gap: float = 0.3) -> None:
    """Push the nodes of one row apart, left to right, until none overlap."""
    keys = sorted(keys, key=lambda key: position[key][0])
    for before, key in itertools.pairwise(keys):
        least = position[before][0] + size[before][0] / 2 + gap + size[key][0] / 2
        if position[key][0] < least:
            position[key] = (least, position[key][1])


def _measure(texts: list[str], fontsize: float) -> list[tuple[float, float]]:
    """Width and height in inches of each text as matplotlib will draw it."""
    scratch = Figure(figsize=(4, 4))
    canvas = FigureCanvasAgg(scratch)
    renderer = canvas.get_renderer()
    sizes = []
    for text in texts:
        artist = scratch.text(0, 0, text, fontsize=fontsize)
        extent = artist.get_window_extent(renderer)
        sizes.append((extent.width / scratch.dpi, extent.height / scratch.dpi))
        artist.remove()
    return sizes


def _draw_edge(axes, edge: GraphEdge, position, boxes, backward: bool, on_chain: bool) -> None:
    (x1, y1), (x2, y2) = position[edge.source], position[edge.target]
    if edge.backward:
        color, width = _BACKWARD_COLOR, 1.5
        # Arcs along the chain bend below it; edges up to a parameter bend outwards.
        rad = -_ARC if on_chain else (-0.25 if x2 < x1 else 0.25)
    else:
        color, width, rad = (_CONTEXT_COLOR if backward else _FORWARD_COLOR), 1.1, 0.0
    axes.add_patch(
        FancyArrowPatch(
            (x1, y1),
            (x2, y2),
            patchA=boxes[edge.source],
            patchB=boxes[edge.target],
            arrowstyle="-|>",
            mutation_scale=13,
            connectionstyle=f"arc3,rad={rad}",
            color=color,
            linewidth=width,
            zorder=2,
        )
    )
    if not edge.label:
        return
    # A point on the arc3 Bezier curve (one data unit is one inch, so data units do).
    cx = (x1 + x2) / 2 + rad * (y2 - y1)
    cy = (y1 + y2) / 2 - rad * (x2 - x1)
    t = 0.5 if on_chain or not edge.backward else 0.62
    lx = (1 - t) ** 2 * x1 + 2 * (1 - t) * t * cx + t**2 * x2
    ly = (1 - t) ** 2 * y1 + 2 * (1 - t) * t * cy + t**2 * y2
    style = {"ha": "center", "va": "center"}
    if not edge.backward and y1 == y2:
        ly, style["va"] = ly + 0.08, "bottom"  # forward labels sit on their edge
    elif on_chain:
        ly, style["va"] = ly - 0.06, "top"  # below the arc, which stays visible
    elif edge.backward:
        style["ha"] = "right" if x2 < x1 else "left"
        lx += -0.06 if x2 < x1 else 0.06
    axes.text(
        lx,
        ly,
        edge.label,
        fontsize=_EDGE_FONT,
        color=color if edge.backward else "#222222",
        zorder=5,
        bbox={
            "boxstyle": "round,pad=0.12",
            "facecolor": "white",
            "edgecolor": "none",
            "alpha": 0.85,
        },
        **style,
    )


# --------------------------------------------------------------------------- network diagram


@dataclass(frozen=True)
class WeightEdge:
    """One connection in textbook indexing: to neuron ``to`` of layer ``layer`` from ``source``."""

    layer: int  # l, 1-based: the l-th Dense layer
    to: int  # j, 1-based
    source: int  # i, 1-based
    weight: float  # the engine's W_l[i - 1, j - 1]

    @property
    def name(self) -> str:
        """w_ji in mathtext, with a comma when an index has two digits."""
        sep = "," if self.to > 9 or self.source > 9 else ""
        return f"$w_{{{self.to}{sep}{self.source}}}$"

    def label(self, digits: int = 2) -> str:
        return f"{self.name} = {self.weight:.{digits}f}"


def network_edges(model: Sequential) -> list[WeightEdge]:
    """Every weight of every Dense layer, indexed as textbooks do (w_ji, 1-based)."""
    edges = []
    for layer_index, layer in enumerate(_dense_layers(model), start=1):
        weights = model.params[f"{layer.name}.W"]
        for j in range(weights.shape[1]):
            for i in range(weights.shape[0]):
                edges.append(WeightEdge(layer_index, j + 1, i + 1, float(weights[i, j])))
    return edges


def _dense_layers(model: Sequential) -> list[Dense]:
    if not isinstance(model, Sequential):
        raise TypeError(f"expected a chainrule Sequential model, got {type(model).__name__}")
    drawn = (Dense, Activation, Dropout, Flatten)
    other = next((layer for layer in model.layers if not isinstance(layer, drawn)), None)
    if other is not None:
        raise ValueError(
            f"the network diagram draws Dense layers only, and layer {other.name!r} is a "
            f"{type(other).__name__}; draw the computation graph instead (render_graph(model, "
            "path), or `chainrule graph` without --diagram)"
        )
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    if not dense:
        raise ValueError("the network diagram needs at least one Dense layer")
    return dense


def _check_diagram_size(model: Sequential, dense: list[Dense]) -> list[int]:
    widths = [math.prod(model.input_shape)] + [layer.units for layer in dense]
    names = ["the input"] + [f"Dense {layer.name!r}" for layer in dense]
    for name, width in zip(names, widths, strict=True):
        if width > MAX_DIAGRAM_UNITS:
            raise ValueError(
                f"the network diagram draws at most {MAX_DIAGRAM_UNITS} units per layer, and "
                f"{name} has {width}; for a network this size draw the computation graph "
                "instead (render_graph(model, path), or `chainrule graph`)"
            )
    return widths


def network_figure(model: Sequential, digits: int = 2) -> Figure:
    """Neurons as circles in columns, each connection labelled with its weight w_ji.

    Inputs are x_i; the neurons of layer l are a_j (their bias b_j written inside). Edge
    colour gives the weight's sign (blue positive, red negative), its width the magnitude.
    Labels sit at a point along each edge that depends on its source, so the labels of the
    edges into one neuron do not meet; above 64 connections between two layers the weights
    are shown by colour and width only.
    """
    check_integer(digits, "digits", minimum=0, maximum=6)
    dense = _dense_layers(model)
    widths = _check_diagram_size(model, dense)
    activations = _activation_names(model)
    edges = network_edges(model)
    radius, row_gap = 0.36, 1.15
    gaps = [max(3.6, 0.95 * n_in + 1.6) for n_in in widths[:-1]]  # room for staggered labels
    column_x = [0.0]
    for gap in gaps:
        column_x.append(column_x[-1] + gap)

    def centre(layer: int, unit: int) -> tuple[float, float]:  # unit is 1-based
        return column_x[layer], ((widths[layer] - 1) / 2 - (unit - 1)) * row_gap

    half = (max(widths) - 1) / 2 * row_gap
    left, right = -1.0, column_x[-1] + 1.0
    bottom, top = -half - 1.4, half + 1.3
    figure = Figure(figsize=(right - left, top - bottom))
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))  # one data unit is one inch in x and in y
    axes.set_xlim(left, right)
    axes.set_ylim(bottom, top)
    axes.axis("off")

    largest = max((abs(e.weight) for e in edges), default=1.0) or 1.0
    for layer_index in range(1, len(widths)):
        n_in = widths[layer_index - 1]
        labelled = n_in * widths[layer_index] <= MAX_LABELLED_CONNECTIONS
        for edge in (e for e in edges if e.layer == layer_index):
            (x1, y1), (x2, y2) = centre(layer_index - 1, edge.source), centre(layer_index, edge.to)
            color = "#1f77b4" if edge.weight >= 0 else "#d62728"
            axes.plot(
                [x1, x2],
                [y1, y2],
                color=color,
                linewidth=0.6 + 3.0 * abs(edge.weight) / largest,
                alpha=0.7,
                solid_capstyle="round",
                zorder=1,
            )
            if not labelled:
                continue
            t = 0.24 + 0.52 * ((edge.source - 1) / (n_in - 1) if n_in > 1 else 0.5)
            axes.text(
                x1 + t * (x2 - x1),
                y1 + t * (y2 - y1),
                edge.label(digits),
                ha="center",
                va="center",
                fontsize=8,
                color=color,
                zorder=3,
                bbox={
                    "boxstyle": "round,pad=0.12",
                    "facecolor": "white",
                    "edgecolor": color,
                    "linewidth": 0.5,
                    "alpha": 0.9,
                },
            )
    for layer_index, width in enumerate(widths):
        layer = dense[layer_index - 1] if layer_index else None
        biases = model.params[f"{layer.name}.b"] if layer is not None and layer.use_bias else None
        for unit in range(1, width + 1):
            x, y = centre(layer_index, unit)
            axes.add_patch(
                Circle(
                    (x, y),
                    radius,
                    facecolor="#dbe9f6" if layer is None else "#ffffff",
                    edgecolor="#333333",
                    linewidth=1.2,
                    zorder=4,
                )
            )
            name = f"$x_{{{unit}}}$" if layer is None else f"$a_{{{unit}}}$"
            if biases is None:
                axes.text(x, y, name, ha="center", va="center", fontsize=11, zorder=5)
                continue
            axes.text(x, y + 0.1, name, ha="center", va="center", fontsize=11, zorder=5)
            bias = f"b={float(biases[unit - 1]):.{digits}f}"
            axes.text(
                x, y - 0.16, bias, ha="center", va="center", fontsize=6.5, color="#555555", zorder=5
            )
        if layer is None:
            header = f"input\n{width} units"
        else:
            header = (
                f"layer {layer_index}: {layer.name}\n{width} units, {activations[layer_index - 1]}"
            )
        axes.text(
            column_x[layer_index],
            half + radius + 0.25,
            header,
            ha="center",
            va="bottom",
            fontsize=9.5,
        )
    sizes = "-".join(map(str, widths))
    axes.text(
        (left + right) / 2,
        bottom + 0.15,
        f"{sizes} network. $w_{{ji}}$: the weight to neuron j from input i (textbook "
        "indexing; the engine stores it as W[i-1, j-1]).\nBlue positive, red negative; line "
        "width grows with |w|; b: the neuron's bias.",
        ha="center",
        va="bottom",
        fontsize=8.5,
        color="#333333",
    )
    return figure


def _activation_names(model: Sequential) -> list[str]:
    """The activation after each Dense layer (``linear`` when none follows)."""
    plan = network_plan(model)
    names = []
    for stage in range(1, plan.depth + 1):
        kinds = [s for s in plan.stage_steps(stage) if s.kind == "activation"]
        names.append(", ".join(activation_math(s.layer).name for s in kinds) or "linear")
    return names


def network_diagram(
    model: Sequential,
    out_path_without_suffix: str | Path,
    formats: Sequence[str] = ("svg", "png"),
    digits: int = 2,
) -> list[Path]:
    """Draw the classic network diagram of a small model (≤ 16 units a layer) and save it."""
    return save_figure(network_figure(model, digits), out_path_without_suffix, formats)
