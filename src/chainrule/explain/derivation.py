"""The vectorized equations of one training step, derived for a given model.

``derive(model, optimizer)`` writes out, layer by layer and with this model's sizes, what one
step of training computes: the forward pass, the loss, the output delta, the delta recursion,
the gradient of every parameter, the L2 term, and the optimizer's update rule. The batch size
m stays symbolic; every other size is the model's own (X (m×784), W_1 (784×64) …).

Layout: the engine's. A batch is a matrix with one example per row and a layer computes
Z = A W + b with W of shape fan_in × fan_out. Textbooks write z = W x + b for one example as a
column, with W of shape fan_out × fan_in: their W is the transpose of this one. Capitals are
batch matrices (m rows); δ_l = ∂L/∂Z_l has the shape of Z_l.

The equations follow the engine exactly: each activation's derivative as its backward computes
it (from the output where it can: σ' = a(1 − a), tanh' = 1 − a²), the loss conventions of
``chainrule.nn.losses`` (softmax + cross-entropy fused to (A − Y)/m at the logits; sigmoid +
binary cross-entropy to (A − Y)/(m k); MSE by its reduction), and the update formulas of
``chainrule.nn.optim`` with their hyperparameter values, each read from the component's own
math description (``layer.math``, ``loss.math``, ``optimizer.math``: ``chainrule.nn.formulas``).

The equations are written once, in TeX, as a ``chainrule.reporting.document.Document``; its
renderers give Markdown with ``$…$`` math, a LaTeX fragment (``align*`` environments; needs
``amsmath``), plain Unicode text for a terminal, or an HTML page. ``network_plan`` is the walk
over the model that both this module and the computation graphs (``chainrule.explain.graph``)
are built from.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from chainrule.nn.formulas import ActivationMath, FusedLoss, LayerEquation, LayerMath, tex_number
from chainrule.nn.layers import (
    Activation,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
)
from chainrule.nn.layers.conv2d import pair_text
from chainrule.nn.losses import CategoricalCrossEntropy, Loss
from chainrule.nn.model import Sequential
from chainrule.nn.optim import Optimizer
from chainrule.reporting.display import rendered
from chainrule.reporting.document import (
    Block,
    Document,
    Equation,
    Equations,
    Heading,
    Paragraph,
    Table,
    prose,
)
from chainrule.reporting.formats import check_format

__all__ = ["NetworkPlan", "Step", "Tensor", "derivation", "derive", "network_plan"]

Shape = tuple[int | str, ...]


# --------------------------------------------------------------------------- the model, walked


@dataclass(frozen=True)
class Tensor:
    """One matrix of the step: its identifier, its symbol, its shape (m = the batch size)."""

    key: str  # identifier, also the graph node id: x, a0, z1, a1, a1_drop, W1, b1, M1, y, loss
    tex: str  # the batch-matrix symbol in LaTeX: X, Z_1, \tilde{A}_1, W_1, \mathcal{L}
    shape: Shape  # ("m", 64), (784, 64), (64,) for a bias, () for the loss
    #: input, reshaped, pre, act, dropped, param, mask, target, loss; for convolutional
    #: networks also cols (im2col), view (the kernels as a matrix), pooled, stat (μ, σ²),
    #: standardized (x̂) and normalized (BatchNorm's output)
    role: str
    layer: str | None = None  # name of the layer that makes or owns it
    stage: int = 0  # l of the Dense or Conv2D layer it belongs to (0 before the first)
    drawn: bool = True  # whether the computation graph draws it as a node


@dataclass(frozen=True)
class Step:
    """One layer (or the loss) as an operation from tensor ``source`` to tensor ``output``."""

    kind: str  # flatten, dense, activation, dropout, im2col, conv, pool, batchnorm, loss
    layer: Layer | None
    stage: int
    source: str
    output: str
    params: tuple[str, ...] = ()  # W_l, b_l for dense and conv, γ, β for batchnorm; y for the loss
    mask: str | None = None  # M_l for dropout
    #: For a layer described by a ``LayerMath``: each field its equations name -> tensor key
    #: (``x``, ``out``, ``W``, ``cols`` …).
    fields: dict[str, str] = field(default_factory=dict, compare=False)


#: The kinds of step written from the layer's own ``LayerMath``.
LAYER_MATH_KINDS = ("conv", "pool", "batchnorm", "flatten", "layer")


@dataclass
class NetworkPlan:
    """The model as tensors and steps, in forward order; built by :func:`network_plan`."""

    model: Sequential
    tensors: dict[str, Tensor] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    depth: int = 0  # L, the number of Dense and Conv2D layers
    output: str = "x"  # key of the network's output
    loss: Loss | None = None
    fused: bool = False  # softmax + CE or sigmoid + BCE computed from the logits
    logits: str | None = None  # key of the tensor the fused loss starts from
    #: Parameter tensor keys the L2 penalty covers, weights first.
    regularized: list[str] = field(default_factory=list)

    def tex(self, key: str) -> str:
        return self.tensors[key].tex

    def stage_steps(self, stage: int) -> list[Step]:
        """The parameter-free steps after Dense ``stage`` (activation, dropout …), in order."""
        return [s for s in self.steps if s.stage == stage and s.kind not in ("dense", "loss")]

    def dense_steps(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "dense"]

    @property
    def layerwise(self) -> bool:
        """Whether the model has layers beyond Dense, activations, Dropout and a leading
        Flatten (convolutions, pooling, BatchNorm): derived layer by layer, not as the
        dense delta recursion."""
        return any(
            s.kind in ("conv", "pool", "batchnorm", "layer")
            or (s.kind == "flatten" and s.stage > 0)
            for s in self.steps
        )

    @property
    def convolutional(self) -> bool:
        return any(s.kind == "conv" for s in self.steps)

    @property
    def num_outputs(self) -> int:
        return math.prod(int(d) for d in self.tensors[self.output].shape[1:])


def network_plan(model: Sequential) -> NetworkPlan:
    """Walk ``model`` and name every matrix of its forward pass, as the equations use them.

    Layer l is a Dense or Conv2D layer with what follows it up to the next one (its
    activation, pooling, BatchNorm, a dropout, a Flatten); l = 0 is the input and whatever
    comes before the first (a Flatten).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"expected a chainrule Sequential model, got {type(model).__name__}")
    plan = NetworkPlan(model=model, loss=model.loss)
    tensors = plan.tensors
    tensors["x"] = Tensor("x", "X", ("m", *model.input_shape), "input")
    current = "x"
    stage = 0
    for layer in model.layers:
        shape: Shape = ("m", *layer.output_shape)
        if isinstance(layer, Dense):
            stage += 1
            params = [
                _add(
                    tensors,
                    f"W{stage}",
                    _indexed("W", stage),
                    layer.W.shape,
                    "param",
                    layer.name,
                    stage,
                )
            ]
            if layer.use_bias:
                params.append(
                    _add(
                        tensors,
                        f"b{stage}",
                        _indexed("b", stage),
                        (layer.units,),
                        "param",
                        layer.name,
                        stage,
                    )
                )
            output = _add(
                tensors, f"z{stage}", _indexed("Z", stage), shape, "pre", layer.name, stage
            )
            plan.steps.append(Step("dense", layer, stage, current, output, tuple(params)))
        elif isinstance(layer, Conv2D):
            stage += 1
            output = _add_conv(plan, layer, stage, current, shape)
        elif isinstance(layer, Activation):
            output = _add(
                tensors, f"a{stage}", _indexed("A", stage), shape, "act", layer.name, stage
            )
            plan.steps.append(Step("activation", layer, stage, current, output))
        elif isinstance(layer, Dropout):
            base = tensors[current]
            mask = _add(
                tensors, f"M{stage}", _indexed("M", stage), shape, "mask", layer.name, stage
            )
            output = _add(
                tensors, f"{current}_drop", _accent(r"\tilde{{{x_letter}}}", base.tex), shape,
                "dropped", layer.name, stage,
            )  # fmt: skip
            plan.steps.append(Step("dropout", layer, stage, current, output, mask=mask))
        elif isinstance(layer, Flatten):
            if len(layer.input_shape) == 1:
                continue  # already flat: a no-op
            key, letter = ("a", "A") if stage == 0 else ("f", "F")
            output = _add(
                tensors, f"{key}{stage}", _indexed(letter, stage), shape, "reshaped", layer.name,
                stage,
            )  # fmt: skip
            fields = {"x": current, "out": output}
            plan.steps.append(Step("flatten", layer, stage, current, output, fields=fields))
        elif isinstance(layer, MaxPool2D | AvgPool2D):
            output = _add(
                tensors, f"p{stage}", _indexed("P", stage), shape, "pooled", layer.name, stage
            )
            fields = {"x": current, "out": output}
            plan.steps.append(Step("pool", layer, stage, current, output, fields=fields))
        elif isinstance(layer, BatchNorm):
            output = _add_batchnorm(plan, layer, stage, current, shape)
        elif isinstance(getattr(layer, "math", None), LayerMath):
            output = _add_described(plan, layer, stage, current, shape)
        else:
            raise ValueError(
                f"the derivation covers Dense, Conv2D, pooling, BatchNorm, activation, Dropout "
                f"and Flatten layers, and layers whose class gives its equations (math = "
                f"LayerMath(...), chainrule.nn.formulas); layer {layer.name!r} is a "
                f"{type(layer).__name__}"
            )
        current = output
    if stage == 0:
        raise ValueError("the derivation needs at least one Dense or Conv2D layer in the model")
    plan.depth = stage
    plan.output = current
    plan.regularized = _regularized(plan)
    if model.loss is not None:
        tensors["y"] = Tensor("y", "Y", tensors[current].shape, "target")
        tensors["loss"] = Tensor("loss", r"\mathcal{L}", (), "loss")
        source = current
        if model._fused_loss is not None:
            plan.fused = True
            plan.logits = source = plan.steps[-1].source
        plan.steps.append(Step("loss", None, stage, source, "loss", ("y",)))
    return plan


def _add_conv(plan: NetworkPlan, layer: Conv2D, stage: int, source: str, shape: Shape) -> str:
    """A convolution as two steps, im2col (X → X̂_l) and the matrix product (X̂_l → Z_l)."""
    tensors, name = plan.tensors, layer.name
    out_channels = layer.W.shape[0]
    rows = math.prod(layer.W.shape[1:])  # K = C·kh·kw
    columns = math.prod(layer.output_shape[1:])  # L = Ho·Wo
    fields = {"x": source}
    fields["W"] = _add(
        tensors, f"W{stage}", _indexed("W", stage), layer.W.shape, "param", name, stage
    )
    if layer.use_bias:
        fields["b"] = _add(
            tensors, f"b{stage}", _indexed("b", stage), (out_channels,), "param", name, stage
        )
    fields["Wh"] = _add(
        tensors, f"Wh{stage}", _letter(layer, "Wh", stage), (out_channels, rows), "view", name,
        stage, drawn=False,
    )  # fmt: skip
    fields["cols"] = _add(
        tensors, f"cols{stage}", _letter(layer, "cols", stage), ("m", rows, columns), "cols",
        name, stage,
    )  # fmt: skip
    fields["out"] = _add(tensors, f"z{stage}", _indexed("Z", stage), shape, "pre", name, stage)
    params = tuple(fields[key] for key in ("W", "b") if key in fields)
    plan.steps.append(Step("im2col", layer, stage, source, fields["cols"], fields=fields))
    plan.steps.append(
        Step("conv", layer, stage, fields["cols"], fields["out"], params, fields=fields)
    )
    return fields["out"]


def _add_batchnorm(
    plan: NetworkPlan, layer: BatchNorm, stage: int, source: str, shape: Shape
) -> str:
    tensors, name = plan.tensors, layer.name
    count = (layer.features,)
    fields = {"x": source}
    fields["gamma"] = _add(
        tensors, f"gamma{stage}", _indexed(r"\gamma", stage), count, "param", name, stage
    )
    fields["beta"] = _add(
        tensors, f"beta{stage}", _indexed(r"\beta", stage), count, "param", name, stage
    )
    fields["mu"] = _add(
        tensors, f"mu{stage}", _letter(layer, "mu", stage), count, "stat", name, stage, drawn=False
    )
    fields["var"] = _add(
        tensors,
        f"var{stage}",
        _letter(layer, "var", stage),
        count,
        "stat",
        name,
        stage,
        drawn=False,
    )
    letter = layer.math.tensors["xhat"][0]
    fields["xhat"] = _add(
        tensors, f"{source}_hat", _accent(letter, tensors[source].tex), tensors[source].shape,
        "standardized", name, stage, drawn=False,
    )  # fmt: skip
    fields["out"] = _add(
        tensors, f"bn{stage}", _indexed("B", stage), shape, "normalized", name, stage
    )
    params = (fields["gamma"], fields["beta"])
    plan.steps.append(Step("batchnorm", layer, stage, source, fields["out"], params, fields=fields))
    return fields["out"]


def _add_described(plan: NetworkPlan, layer: Layer, stage: int, source: str, shape: Shape) -> str:
    """Any other layer that gives its equations: its parameters and its output named by its
    ``LayerMath.tensors`` (``out`` for the output; a parameter's local name), default ``H``."""
    description: LayerMath = layer.math
    fields = {"x": source}
    for local, spec in layer.parameter_specs().items():
        letter = description.tensors.get(local, (local,))[0]
        fields[local] = _add(
            plan.tensors, f"{local}{stage}", _indexed(letter, stage), spec.shape, "param",
            layer.name, stage,
        )  # fmt: skip
    letter = description.tensors.get("out", ("H",))[0]
    fields["out"] = _add(
        plan.tensors, f"h{stage}", _indexed(letter, stage), shape, "layer", layer.name, stage
    )
    params = tuple(key for name, key in fields.items() if name not in ("x", "out"))
    plan.steps.append(Step("layer", layer, stage, source, fields["out"], params, fields=fields))
    return fields["out"]


def _regularized(plan: NetworkPlan) -> list[str]:
    """The parameter keys L2 covers: those the layer marks (weights), then, with
    ``l2_biases``, the rest (biases, BatchNorm's γ and β), as the model builds its buffer."""
    marked, others = [], []
    for step in plan.steps:
        if step.layer is None or not step.params or step.kind == "im2col":
            continue
        specs = list(step.layer.parameter_specs().values())
        for key, spec in zip(step.params, specs, strict=True):
            (marked if spec.regularize else others).append(key)
    return marked + (others if plan.model.l2_biases else [])


def _indexed(letter: str, index: int) -> str:
    return f"{letter}_{index}" if index < 10 else f"{letter}_{{{index}}}"


def _delta(index: int) -> str:
    return _indexed(r"\delta", index)


def _letter(layer: Layer, name: str, stage: int) -> str:
    """The symbol of intermediate tensor ``name`` from the layer's math, subscripted."""
    return _indexed(layer.math.tensors[name][0].format(x_letter=""), stage)


def _accent(template: str, tex: str) -> str:
    """An accented symbol, the accent on the letter only: \\tilde{A}_1, \\hat{Z}_2."""
    letter, _, rest = tex.partition("_")
    return template.format(x_letter=letter) + (f"_{rest}" if rest else "")


def _add(
    tensors: dict[str, Tensor],
    key: str,
    tex: str,
    shape: Shape,
    role: str,
    layer: str | None = None,
    stage: int = 0,
    drawn: bool = True,
) -> str:
    """Add a tensor; a second one of the same name in one layer gets a prime (A_1')."""
    while key in tensors:
        key = key + "p"
        tex = f"{{{tex}}}'" if "^" in tex else tex + "'"  # no double superscript
    tensors[key] = Tensor(key, tex, tuple(shape), role, layer, stage, drawn)
    return key


# --------------------------------------------------------------------------- the components' math


def activation_math(layer: Activation) -> ActivationMath:
    """The activation's own description of its math (``layer.math``, chainrule.nn.formulas)."""
    description = layer.math
    if description is None:
        raise ValueError(
            f"no derivative on record for activation {type(layer).__name__}; give its class a "
            "math = ActivationMath(...) (chainrule.nn.formulas)"
        )
    return description


@dataclass(frozen=True)
class LossEquations:
    """The loss of this model as the derivation writes it: value, starting gradient, note."""

    name: str
    value: str  # L in terms of the output (or logits) and Y
    gradient: str  # dL/d(output), or dL/d(logits) when fused / from logits
    note: str


def loss_math(plan: NetworkPlan) -> LossEquations:
    """The loss's value and the gradient the backward pass starts from, read from the loss's
    math description (its fused form when the model fuses it with the output activation)."""
    loss = plan.loss
    if loss is None:
        raise ValueError(
            "the model has no loss; build it with loss=... to derive its backward pass"
        )
    description = loss.math
    if description is None:
        raise ValueError(f"no derivation on record for the loss {type(loss).__name__}")
    form = description.fused if plan.fused else description
    if form is None:
        raise ValueError(f"no fused form on record for the loss {type(loss).__name__}")
    names = {
        "a": plan.tex(plan.output),
        "z": plan.tex(plan.logits) if plan.fused else "",
        "k": plan.num_outputs,
    }
    return LossEquations(
        form.name,
        form.value.format(**names),
        form.gradient.format(**names),
        form.note.format(**names),
    )


def optimizer_math(optimizer: Optimizer) -> tuple[str, list[tuple[str, str, str, str]], str]:
    """(name, [(lhs, relation, rhs, note)], hyperparameters as inline tex) of an update rule,
    read from the optimizer's math description."""
    description = optimizer.math
    if description is None:
        raise ValueError(
            f"no update rule on record for {type(optimizer).__name__}; give its class a "
            "math = OptimizerMath(...) (chainrule.nn.formulas)"
        )
    relations = {"<-": r"\leftarrow", "=": "="}
    rows = [
        (rule.target_tex, relations[rule.relation], rule.tex, rule.note)
        for rule in description.rules
    ]
    values = optimizer.hyperparameters()
    hyper = ", ".join(
        f"{symbol.tex} = {tex_number(values[name])}" for name, symbol in description.symbols.items()
    )
    return description.name, rows, hyper


def layer_math(layer: Layer) -> LayerMath:
    """A Conv2D's, pooling's, BatchNorm's or Flatten's own equations (``layer.math``)."""
    description = getattr(layer, "math", None)
    if not isinstance(description, LayerMath):
        raise ValueError(
            f"no equations on record for layer {type(layer).__name__}; give its class a "
            "math = LayerMath(...) (chainrule.nn.formulas)"
        )
    return description


def gradient_symbol(plan: NetworkPlan, key: str) -> str:
    """∂L/∂T as the equations write it: δ_l for a pre-activation Z_l, else ∂L/∂T."""
    tensor = plan.tensors[key]
    if tensor.role == "pre":
        return _delta(tensor.stage)
    return rf"\partial\mathcal{{L}}/\partial {tensor.tex}"


def layer_fields(plan: NetworkPlan, step: Step, input_grad: bool = True) -> dict[str, Any]:
    """What the fields of the step's ``LayerMath`` templates stand for here: each tensor's
    symbol (``x``, ``out``, ``W`` …), its gradient's (``dx``, ``dout``, ``dW`` …), the
    numbers the layer's ``values`` reads, and ``input_grad`` (whether the layer below needs
    dL/dx)."""
    values: dict[str, Any] = dict(layer_math(step.layer).values(step.layer))
    for name, key in step.fields.items():
        values[name] = plan.tex(key)
        values["d" + name] = gradient_symbol(plan, key)
    values["input_grad"] = input_grad
    return values


def layer_rows(
    plan: NetworkPlan, step: Step, rows: tuple[LayerEquation, ...], values: dict[str, Any]
) -> list[tuple[LayerEquation, str, str, str]]:
    """The rows that apply here (their ``when`` holds), as (row, lhs, rhs, note) in TeX."""
    return [
        (row, row.lhs.format(**values), row.rhs.format(**values), row.note.format(**values))
        for row in rows
        if row.when is None or values.get(row.when)
    ]


# --------------------------------------------------------------------------- the document


def _para(markup: str) -> Paragraph:
    """A paragraph written in markup: ``$…$`` is TeX math, ```…``` a name."""
    return Paragraph(prose(markup))


def _eq(lhs: str, rel: str, rhs: str, shape: Shape | None = None, note: str = "") -> Equation:
    """One equation row in TeX, with its value's shape and a note in markup."""
    return Equation(lhs, rel, rhs, shape=shape, note=prose(note))


def derive(model: Sequential, optimizer: Optimizer | None = None, fmt: str = "markdown") -> str:
    """The vectorized equations of one training step of ``model``, with every matrix's shape.

    ``fmt`` is one of ``chainrule.reporting.formats.FORMATS``: ``"markdown"`` (``$…$``
    math), ``"latex"`` (a fragment with ``align*`` environments; ``\\usepackage{amsmath}``),
    ``"text"`` (plain Unicode for a terminal) or ``"html"`` (a page). Without ``optimizer``
    the update section is left out.
    """
    check_format(fmt)
    # a str that a notebook shows in fmt (Markdown typeset, with its math)
    return rendered(derivation(model, optimizer), fmt)


def derivation(model: Sequential, optimizer: Optimizer | None = None) -> Document:
    """The document :func:`derive` renders: the equations as headings, paragraphs, a shapes
    table and equation rows (each with the shape of its value)."""
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a chainrule Optimizer, got {type(optimizer).__name__}")
    return _document(network_plan(model), optimizer)


def _document(plan: NetworkPlan, optimizer: Optimizer | None) -> Document:
    model = plan.model
    loss = loss_math(plan)
    backward = _layerwise_backward_blocks if plan.layerwise else _backward_blocks
    blocks: list[Block] = [
        _para(
            "Layers: "
            + ", ".join(_describe_layer(layer) for layer in model.layers)
            + f". Loss: {loss.name}."
        ),
        *(_para(text) for text in _preamble(plan)),
        Heading("Shapes"),
        _shapes_table(plan),
        Heading("Forward pass"),
        Equations(_forward_rows(plan, loss)),
        Heading("Backward pass"),
        *backward(plan, loss),
    ]
    if model.l2.strength > 0:
        blocks += _l2_blocks(plan)
    if optimizer is not None:
        blocks += _update_blocks(plan, optimizer)
    return Document(_title(plan), blocks, origin="Generated by chainrule derive.")


def _title(plan: NetworkPlan) -> str:
    model = plan.model
    if plan.convolutional:
        shape = "×".join(map(str, model.input_shape))
        return f"One training step of a convolutional network, {shape} → {plan.num_outputs}"
    sizes = [math.prod(model.input_shape)] + [s.layer.units for s in plan.dense_steps()]
    title = f"One training step of a {'-'.join(map(str, sizes))} network"
    return title + " with batch norm" if plan.layerwise else title


def _preamble(plan: NetworkPlan) -> tuple[str, str]:
    """The layout and the notation, in markup: the dense derivation's (its delta recursion in
    the textbook's form), or the layer-by-layer one's (images, im2col, per-example slices)."""
    if not plan.layerwise:
        return (
            "Layout: the engine's. A batch is a matrix with one example per row, and a layer "
            "computes $Z = A W + b$ with $W$ of shape `fan_in × fan_out`, $b$ added to every row. "
            "Textbooks write $z = W x + b$ for one example as a column: their $W$ is the "
            "transpose of this one (`fan_out × fan_in`), and their "
            "$\\delta^l = (W^{l+1})^\\top \\delta^{l+1} \\odot f'(z^l)$ is the "
            "$\\delta_l = (\\delta_{l+1} W_{l+1}^\\top) \\odot f_l'(Z_l)$ below.",
            "Notation: $m$ is the batch size (kept symbolic; every other size is this model's). "
            "Capitals are batch matrices with $m$ rows. $\\odot$ and $\\oslash$ multiply and "
            "divide element-wise; $[\\cdot]$ is 1 where true and 0 elsewhere; $\\mathbf{1}$ is a "
            "column of $m$ ones; $\\sum$ adds every entry of what follows. "
            "$\\delta_l = \\partial\\mathcal{L}/\\partial Z_l$ has the shape of $Z_l$.",
        )
    if plan.convolutional:
        layout = (
            "Layout: the engine's (PyTorch's for images). An image batch is "
            "$m \\times C \\times H \\times W$ (examples, channels, rows, columns). A "
            "convolution's kernels $W$ are $O \\times C \\times k_h \\times k_w$ for $O$ "
            "filters, and it computes a cross-correlation (the kernel is not flipped), as "
            "every framework does: im2col gathers each receptive field into one column of "
            "$\\hat{X}$, with $K = C k_h k_w$ rows and one column per output position, and "
            "$\\hat{W}$ holds each filter as a row, so one matrix product per example "
            "computes every output. A Dense layer computes $Z = A W + b$ with $W$ of shape "
            "`fan_in × fan_out`, one example per row."
        )
    else:
        layout = (
            "Layout: the engine's. A batch is a matrix with one example per row, and a "
            "Dense layer computes $Z = A W + b$ with $W$ of shape `fan_in × fan_out`."
        )
    notation = (
        "Notation: $m$ is the batch size (kept symbolic; every other size is this "
        "model's). $T[n]$ is example $n$ of a batch tensor $T$ and $T[n, c, i, j]$ one "
        "entry, its indices counted from 0 as the engine's arrays count them (so window "
        "$(i, j)$ of stride 2 starts at row $2i$; `chainrule explain` counts from 1 and "
        "writes $2(i-1)+1$); $\\partial\\mathcal{L}/\\partial T$ has the shape of $T$, and "
        "$\\delta_l = \\partial\\mathcal{L}/\\partial Z_l$. $\\odot$ and $\\oslash$ multiply "
        "and divide element-wise; $[\\cdot]$ is 1 where true and 0 elsewhere; "
        "$\\mathbf{1}$ is a column of $m$ ones; a $\\sum$ without limits adds every entry "
        "of what follows. The shape beside an equation is that of the whole tensor it fills, "
        "for all $m$ examples."
    )
    return layout, notation


def _describe_layer(layer: Layer) -> str:
    if isinstance(layer, Dense):
        bias = "" if layer.use_bias else ", no bias"
        return f"`{layer.name}` (Dense {layer.input_shape[0]} → {layer.units}{bias})"
    if isinstance(layer, Dropout):
        return f"`{layer.name}` (dropout, rate {_plain_num(layer.rate)})"
    if isinstance(layer, Flatten):
        return f"`{layer.name}` (flatten)"
    if isinstance(layer, Activation):
        return f"`{layer.name}` ({activation_math(layer).name})"
    if isinstance(layer, Conv2D):
        (kh, kw), padding = layer.kernel_size, layer.padding
        padding = padding if isinstance(padding, str) else "×".join(map(str, padding))
        return (
            f"`{layer.name}` (Conv2D, {layer.filters} filters {kh}×{kw}, stride "
            f"{pair_text(layer.stride)}, padding {padding})"
        )
    if isinstance(layer, MaxPool2D | AvgPool2D):
        kind = "max" if isinstance(layer, MaxPool2D) else "average"
        ph, pw = layer.pool_size
        return f"`{layer.name}` ({kind} pooling {ph}×{pw}, stride {pair_text(layer.stride)})"
    if isinstance(layer, BatchNorm):
        what = "channels" if len(layer.input_shape) == 3 else "features"
        return f"`{layer.name}` (batch normalization of {layer.features} {what})"
    return f"`{layer.name}` ({type(layer).__name__})"


def _shapes_table(plan: NetworkPlan) -> Table:
    meanings = {
        "input": "input batch, one example per row",
        "reshaped": "the input, flattened to one row per example",
        "target": "targets, one row per example",
    }
    if isinstance(plan.loss, CategoricalCrossEntropy):
        meanings["target"] += " (class labels one-hot encoded)"
    rows = []
    layers = {layer.name: layer for layer in plan.model.layers}
    for tensor in plan.tensors.values():
        if tensor.role == "loss":
            continue
        name = f"`{tensor.layer}`" if tensor.layer else ""
        layer = layers.get(tensor.layer)
        if tensor.role == "param" and isinstance(layer, Conv2D | BatchNorm):
            meaning = _layer_param_meaning(tensor, layer, name)
        elif tensor.role == "param" and not isinstance(layer, Dense):
            meaning = f"parameter of {name}; $\\partial\\mathcal{{L}}/\\partial {tensor.tex}$ has this shape"
        elif tensor.role == "param" and tensor.key.startswith("W"):
            meaning = f"weights of {name}; $\\partial\\mathcal{{L}}/\\partial {tensor.tex}$ has this shape"
        elif tensor.role == "param":
            meaning = (
                f"biases of {name}, stored as a vector of {tensor.shape[0]} and added to every row"
            )
        elif tensor.role == "pre" and isinstance(layer, Conv2D):
            meaning = (
                f"output of {name}, {tensor.shape[1]} feature maps; so is ${_delta(tensor.stage)}$"
            )
        elif tensor.role == "pre":
            meaning = f"pre-activation of {name}; so is ${_delta(tensor.stage)}$"
        elif tensor.role in ("cols", "view", "stat", "standardized"):
            field_name = {"cols": "cols", "view": "Wh", "standardized": "xhat"}.get(
                tensor.role, "mu" if tensor.key.startswith("mu") else "var"
            )
            what = (
                layer_math(layer).tensors[field_name][1].format(**layer_math(layer).values(layer))
            )
            meaning = f"{what} (in {name})"
        elif (
            tensor.role in ("pooled", "normalized", "layer")
            or (tensor.role == "reshaped" and tensor.stage > 0)
            or tensor.role == "act"
        ):
            meaning = f"output of {name}"
        elif tensor.role == "mask":
            meaning = f"dropout mask of {name}"
        elif tensor.role == "dropped":
            meaning = f"output of {name} (training); the input itself at inference"
        elif tensor.role == "input" and plan.layerwise and len(tensor.shape) > 2:
            meaning = "input batch, one image (channels × rows × columns) per example"
        else:
            meaning = meanings[tensor.role]
        shape = (
            (1, *tensor.shape)
            if tensor.role == "param" and len(tensor.shape) == 1 and isinstance(layer, Dense)
            else tensor.shape
        )
        rows.append((f"${tensor.tex}$", f"${_shape_tex(shape)}$", meaning))
    return Table(("symbol", "shape", "meaning"), [[prose(cell) for cell in row] for row in rows])


def _layer_param_meaning(tensor: Tensor, layer: Conv2D | BatchNorm, name: str) -> str:
    gradient = f"$\\partial\\mathcal{{L}}/\\partial {tensor.tex}$ has this shape"
    if isinstance(layer, BatchNorm):
        what = "channel" if len(layer.input_shape) == 3 else "feature"
        role = "scales" if tensor.key.startswith("gamma") else "shifts"
        return f"{role} of {name}, one per {what}; {gradient}"
    if len(tensor.shape) == 1:
        return f"biases of {name}, one per filter, added at every position"
    out_channels, channels, kh, kw = tensor.shape
    return f"kernels of {name}: {out_channels} filters of {channels} × {kh} × {kw}; {gradient}"


def _forward_rows(plan: NetworkPlan, loss: LossEquations) -> list[Equation]:
    rows = []
    for step in plan.steps:
        out, src = plan.tex(step.output), plan.tex(step.source)
        shape = plan.tensors[step.output].shape
        layer = step.layer
        if step.kind in LAYER_MATH_KINDS:
            values = layer_fields(plan, step)
            named = step.kind != "flatten"  # the dense derivation's flatten row has no name
            for index, (row, lhs, rhs, note) in enumerate(
                layer_rows(plan, step, layer_math(layer).forward, values)
            ):
                prefix = f"`{layer.name}`: " if named and index == 0 else ""
                rows.append(_eq(lhs, row.rel, rhs, _field_shape(plan, step, row), prefix + note))
        elif step.kind == "im2col":
            continue  # the convolution's first equation
        elif step.kind == "dense":
            bias = f" + {plan.tex(step.params[1])}" if len(step.params) > 1 else ""
            rows.append(
                _eq(out, "=", f"{src} {plan.tex(step.params[0])}{bias}", shape, f"`{layer.name}`")
            )
        elif step.kind == "activation":
            info = activation_math(layer)
            how = "element-wise" if info.elementwise else "row-wise"
            rows.append(_eq(out, "=", info.batch.format(z=src), shape, f"{info.name}, {how}"))
        elif step.kind == "dropout":
            mask = plan.tex(step.mask)
            keep = _num(1 - layer.rate)
            rows.append(
                _eq(
                    out,
                    "=",
                    rf"{src} \odot {mask}",
                    shape,
                    f"${mask}$ is $1/{keep}$ with probability ${keep}$, else 0 (rate "
                    f"${_num(layer.rate)}$); at inference ${out} = {src}$",
                )
            )
        elif step.kind == "loss":
            rows.append(_eq(r"\mathcal{L}", "=", loss.value, None, "averaged over the batch"))
    return rows


def _backward_blocks(plan: NetworkPlan, loss: LossEquations) -> list[Block]:
    depth = plan.depth
    blocks: list[Block] = [Heading("Output delta", 3)]
    rows: list[Equation] = []
    if plan.fused:
        start_key = plan.logits
        start_expr = loss.gradient
    else:
        start_key = plan.output
        start_expr = rf"\partial\mathcal{{L}}/\partial {plan.tex(plan.output)}"
        rows.append(_eq(start_expr, "=", loss.gradient, plan.tensors[plan.output].shape, ""))
    rows += _delta_rows(plan, depth, start_key, start_expr)
    if plan.fused and len(rows) == 1:
        rows[0] = replace(rows[0], note=prose("the backward pass starts here, at the logits"))
    blocks.append(Equations(rows))
    blocks.append(_para(loss.note[0].upper() + loss.note[1:] + "."))
    if depth > 1:
        blocks.append(Heading("Delta recursion", 3))
        blocks.append(
            _para(
                "For $l = L-1, \\ldots, 1$: "
                "$\\delta_l = (\\delta_{l+1} W_{l+1}^\\top) \\odot f_l'(Z_l)$, where "
                "$\\delta_{l+1} W_{l+1}^\\top = \\partial\\mathcal{L}/\\partial A_l$ passes the "
                "delta down through the weights (a dropout mask multiplies in on the way), "
                "and the derivative is the one each activation's backward computes:"
            )
        )
        rows = []
        for index in range(depth - 1, 0, -1):
            nxt = _dense_step(plan, index + 1)
            expr = rf"{_delta(index + 1)} {plan.tex(nxt.params[0])}^\top"
            rows += _delta_rows(plan, index, nxt.source, expr)
        blocks.append(Equations(rows))
    blocks.append(Heading("Parameter gradients", 3))
    rows = []
    l2 = plan.model.l2.strength > 0
    for index in range(depth, 0, -1):
        step = _dense_step(plan, index)
        source, weight = plan.tex(step.source), plan.tex(step.params[0])
        decay = rf" + \lambda {weight}" if l2 else ""
        rows.append(
            _eq(
                rf"\partial\mathcal{{L}}/\partial {weight}",
                "=",
                rf"{source}^\top {_delta(index)}{decay}",
                plan.tensors[step.params[0]].shape,
                "sums over the batch",
            )
        )
        if len(step.params) > 1:
            bias = plan.tex(step.params[1])
            decay = rf" + \lambda {bias}" if l2 and plan.model.l2_biases else ""
            rows.append(
                _eq(
                    rf"\partial\mathcal{{L}}/\partial {bias}",
                    "=",
                    rf"\mathbf{{1}}^\top {_delta(index)}{decay}",
                    (1, plan.tensors[step.params[1]].shape[0]),
                    f"column sums of ${_delta(index)}$",
                )
            )
    blocks.append(Equations(rows))
    first = _dense_step(plan, 1)
    blocks.append(
        _para(
            f"Each $\\delta_l W_l^\\top$ is the gradient passed to the layer below; for $l = 1$ it "
            f"would be $\\partial\\mathcal{{L}}/\\partial {plan.tex(first.source)}$, which no "
            "parameter needs, so the engine skips it."
        )
    )
    return blocks


def _dense_step(plan: NetworkPlan, stage: int) -> Step:
    return next(s for s in plan.dense_steps() if s.stage == stage)


def _delta_rows(plan: NetworkPlan, stage: int, start_key: str, start_expr: str) -> list[Equation]:
    """Rows from ∂L/∂(tensor ``start_key``) = ``start_expr`` back to δ_stage = ∂L/∂Z_stage."""
    ops = plan.stage_steps(stage)
    keys = [s.output for s in ops]
    ops = ops[: keys.index(start_key) + 1] if start_key in keys else []
    z_shape = plan.tensors[f"z{stage}"].shape if f"z{stage}" in plan.tensors else None
    delta = _delta(stage)
    rows: list[Equation] = []
    expr, factors, notes = start_expr, [], []
    for op in reversed(ops):
        layer = op.layer
        if op.kind == "dropout":
            factors.append(plan.tex(op.mask))
            notes.append("dropout's mask")
        elif op.kind == "activation":
            info = activation_math(layer)
            z, a = plan.tex(op.source), plan.tex(op.output)
            if info.batch_derivative is not None:
                factors.append(info.batch_derivative.format(z=z, a=a))
                how = f", {info.derivative_note}" if info.derivative_note else ""
                notes.append(f"${info.derivative_rule}${how}")
            elif not info.elementwise:
                gradient = rf"\partial\mathcal{{L}}/\partial {a}"
                if factors or expr != gradient:
                    rows.append(
                        _eq(
                            gradient,
                            "=",
                            _product(expr, factors),
                            plan.tensors[op.output].shape,
                            "; ".join(notes),
                        )
                    )
                expr, factors, notes = (
                    info.rowwise.batch_backward.format(a=a),
                    [],
                    [f"{info.name}'s Jacobian row by row, $G = {gradient}$"],
                )
                fused = _fused_form(plan, layer) if stage == plan.depth else None
                if fused is not None:  # the output of a loss it could have been fused with
                    notes.append(
                        f"for one-hot $Y$ this is ${fused.gradient.format(a=a)}$, what fusing "
                        "computes"
                    )
    rows.append(_eq(delta, "=", _product(expr, factors), z_shape, "; ".join(notes)))
    return rows


def _fused_form(plan: NetworkPlan, layer: Layer) -> FusedLoss | None:
    """The loss's fused form with ``layer``, when the model could fuse them but does not."""
    loss = plan.loss
    if loss is None or plan.fused or loss.math is None or loss.fused_with(layer) is None:
        return None
    return loss.math.fused


def _product(expr: str, factors: list[str]) -> str:
    if not factors:
        return expr
    if re.search(r"[\s/+\-]", expr.strip()):  # more than one symbol: parenthesize
        expr = f"({expr})"
    return " \\odot ".join([expr, *factors])


def _field_shape(plan: NetworkPlan, step: Step, row: LayerEquation) -> Shape | None:
    return None if row.shape is None else plan.tensors[step.fields[row.shape]].shape


# --------------------------------------------------------------------------- layer by layer


def backward_steps(plan: NetworkPlan) -> list[tuple[Step, bool]]:
    """The steps the backward pass goes through, from the loss down, each with whether the
    layer below needs its input gradient; steps nothing needs (below every parameter, or
    the output activation a fused loss skips) are left out."""
    steps = [s for s in plan.steps if s.kind != "loss"]
    start = plan.logits if plan.fused else plan.output
    position = max(i for i, s in enumerate(steps) if s.output == start)
    walk = []
    for index in range(position, -1, -1):
        needed = any(s.params for s in steps[:index])
        if steps[index].params or needed:
            walk.append((steps[index], needed))
    return walk


def _layerwise_backward_blocks(plan: NetworkPlan, loss: LossEquations) -> list[Block]:
    start = plan.logits if plan.fused else plan.output
    note = "the backward pass starts here, at the logits" if plan.fused else ""
    blocks: list[Block] = [
        Heading("Output delta", 3),
        Equations(
            (
                _eq(
                    gradient_symbol(plan, start),
                    "=",
                    loss.gradient,
                    plan.tensors[start].shape,
                    note,
                ),
            )
        ),
        _para(loss.note[0].upper() + loss.note[1:] + "."),
    ]
    explained: set[type] = set()
    walk = backward_steps(plan)
    for stage in sorted({step.stage for step, _ in walk}, reverse=True):
        group = [(step, needed) for step, needed in walk if step.stage == stage]
        rows: list[Equation] = []
        names: list[str] = []
        notes: list[Block] = []
        for step, needed in group:
            if step.kind == "im2col":
                continue  # the convolution's equations cover it
            names.append(step.layer.name)
            rows += _backward_step_rows(plan, step, needed)
            if step.kind in LAYER_MATH_KINDS and type(step.layer) not in explained:
                description = layer_math(step.layer)
                if description.note:
                    values = layer_fields(plan, step, needed)
                    notes.append(_para(description.note.format(**values)))
                explained.add(type(step.layer))
        if rows:
            listed = [f"`{name}`" for name in names]
            joined = (
                listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
            )
            blocks += [Heading(prose(f"Through {joined}"), 3), Equations(rows), *notes]
    first = next(step for step, _ in reversed(walk) if step.params)
    below = first.fields.get("x", first.source)
    blocks.append(
        _para(
            f"No parameter lies below `{first.layer.name}`, so nothing needs "
            f"${gradient_symbol(plan, below)}$ and the engine skips it"
            + (
                " (and, for this convolution, $\\hat{W}^\\top \\delta$ and col2im)."
                if first.kind == "conv"
                else "."
            )
        )
    )
    return blocks


def _backward_step_rows(plan: NetworkPlan, step: Step, needed: bool) -> list[Equation]:
    """The equations of one step of the backward pass: its parameters' gradients and, when
    the layer below needs it, the gradient passed down."""
    layer, kind = step.layer, step.kind
    out, source = step.output, step.source
    upstream = gradient_symbol(plan, out)
    below = gradient_symbol(plan, source)
    source_shape = plan.tensors[source].shape
    l2 = plan.model.l2.strength > 0
    if kind == "activation":
        info = activation_math(layer)
        z, a = plan.tex(source), plan.tex(out)
        if not info.elementwise:
            note = f"{info.name}'s Jacobian row by row, $G = {upstream}$"
            fused = _fused_form(plan, layer)
            if fused is not None:
                note += f"; for one-hot $Y$ this is ${fused.gradient.format(a=a)}$, what fusing computes"
            return [_eq(below, "=", info.rowwise.batch_backward.format(a=a), source_shape, note)]
        how = f", {info.derivative_note}" if info.derivative_note else ""
        if info.batch_derivative is None:
            return [_eq(below, "=", upstream, source_shape, f"${info.derivative_rule}$")]
        factor = info.batch_derivative.format(z=z, a=a)
        return [
            _eq(
                below,
                "=",
                _product(upstream, [factor]),
                source_shape,
                f"${info.derivative_rule}${how}",
            )
        ]
    if kind == "dropout":
        return [
            _eq(
                below,
                "=",
                _product(upstream, [plan.tex(step.mask)]),
                source_shape,
                "dropout's mask",
            )
        ]
    if kind == "dense":
        weight = plan.tex(step.params[0])
        decay = rf" + \lambda {weight}" if l2 and step.params[0] in plan.regularized else ""
        rows = [
            _eq(
                rf"\partial\mathcal{{L}}/\partial {weight}",
                "=",
                rf"{plan.tex(source)}^\top {upstream}{decay}",
                plan.tensors[step.params[0]].shape,
                "sums over the batch",
            )
        ]
        if len(step.params) > 1:
            bias = plan.tex(step.params[1])
            decay = rf" + \lambda {bias}" if l2 and step.params[1] in plan.regularized else ""
            rows.append(
                _eq(
                    rf"\partial\mathcal{{L}}/\partial {bias}",
                    "=",
                    rf"\mathbf{{1}}^\top {upstream}{decay}",
                    (1, plan.tensors[step.params[1]].shape[0]),
                    f"column sums of ${upstream}$",
                )
            )
        if needed:
            rows.append(
                _eq(
                    below,
                    "=",
                    rf"{upstream} {weight}^\top",
                    source_shape,
                    "passed to the layer below",
                )
            )
        return rows
    values = layer_fields(plan, step, needed)
    decays = {
        "{d" + name + "}": rf" + \lambda {values[name]}"
        for name, key in step.fields.items()
        if l2 and key in plan.regularized
    }
    return [
        _eq(lhs, row.rel, rhs + decays.get(row.lhs, ""), _field_shape(plan, step, row), note)
        for row, lhs, rhs, note in layer_rows(plan, step, layer_math(layer).backward, values)
    ]


def _l2_blocks(plan: NetworkPlan) -> list[Block]:
    model = plan.model
    weights = [plan.tex(key) for key in plan.regularized]
    terms = " + ".join(rf"\lVert{{{w}}}\rVert_F^2" for w in weights)
    which = "weights and biases" if model.l2_biases else "weights (not the biases)"
    return [
        Heading("L2 regularization", 3),
        Equations(
            (
                _eq(
                    r"\mathcal{L}_{\text{total}}",
                    "=",
                    rf"\mathcal{{L}} + (\lambda/2)({terms})",
                    None,
                    f"$\\lambda = {_num(model.l2.strength)}$",
                ),
            )
        ),
        _para(
            f"The penalty covers the {which} and does not depend on the batch; it adds "
            "$\\lambda\\theta$ to each such gradient, as written above (PyTorch's "
            "`weight_decay` for SGD)."
        ),
    ]


def _update_blocks(plan: NetworkPlan, optimizer: Optimizer) -> list[Block]:
    name, rows, hyper = optimizer_math(optimizer)
    params = [t.tex for t in plan.tensors.values() if t.role == "param"]
    shown = (
        ", ".join(params) if len(params) <= 8 else ", ".join([*params[:4], r"\ldots", *params[-2:]])
    )
    return [
        Heading(f"Update: {name}"),
        _para(
            f"For each parameter $\\theta \\in \\{{{shown}\\}}$, with "
            "$g = \\partial\\mathcal{L}/\\partial\\theta$ from above (averaged over the batch), "
            "element-wise; the engine updates every parameter at once in one flat buffer, and "
            "each keeps its own optimizer state."
        ),
        Equations(tuple(_eq(lhs, rel, rhs, None, note) for lhs, rel, rhs, note in rows)),
        _para(f"Hyperparameters: ${hyper}$."),
    ]


# --------------------------------------------------------------------------- numbers, shapes


def _num(value: float) -> str:
    """A number as tex: 0.1, 0.9, 10^{-8}, 2.5 \\times 10^{-5}."""
    text = f"{value:g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \times {power}"


def _plain_num(value: float) -> str:
    return f"{value:g}"


def _shape_tex(shape: Shape) -> str:
    return r" \times ".join(str(d) for d in shape) if shape else "1"
