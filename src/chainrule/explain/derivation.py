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

from chainrule.nn.formulas import ActivationMath, FusedLoss, tex_number
from chainrule.nn.layers import Activation, Dense, Dropout, Flatten, Layer
from chainrule.nn.losses import CategoricalCrossEntropy, Loss
from chainrule.nn.model import Sequential
from chainrule.nn.optim import Optimizer
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
from chainrule.reporting.formats import check_format, render

__all__ = ["NetworkPlan", "Step", "Tensor", "derive", "network_plan"]

Shape = tuple[int | str, ...]


# --------------------------------------------------------------------------- the model, walked


@dataclass(frozen=True)
class Tensor:
    """One matrix of the step: its identifier, its symbol, its shape (m = the batch size)."""

    key: str  # identifier, also the graph node id: x, a0, z1, a1, a1_drop, W1, b1, M1, y, loss
    tex: str  # the batch-matrix symbol in LaTeX: X, Z_1, \tilde{A}_1, W_1, \mathcal{L}
    shape: Shape  # ("m", 64), (784, 64), (64,) for a bias, () for the loss
    role: str  # input, reshaped, pre, act, dropped, param, mask, target, loss
    layer: str | None = None  # name of the layer that makes or owns it
    stage: int = 0  # l of the Dense layer it belongs to (0 before the first Dense)


@dataclass(frozen=True)
class Step:
    """One layer (or the loss) as an operation from tensor ``source`` to tensor ``output``."""

    kind: str  # flatten, dense, activation, dropout, loss
    layer: Layer | None
    stage: int
    source: str
    output: str
    params: tuple[str, ...] = ()  # W_l, b_l for dense; the target y for the loss
    mask: str | None = None  # M_l for dropout


@dataclass
class NetworkPlan:
    """The model as tensors and steps, in forward order; built by :func:`network_plan`."""

    model: Sequential
    tensors: dict[str, Tensor] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    depth: int = 0  # L, the number of Dense layers
    output: str = "x"  # key of the network's output
    loss: Loss | None = None
    fused: bool = False  # softmax + CE or sigmoid + BCE computed from the logits
    logits: str | None = None  # key of the tensor the fused loss starts from

    def tex(self, key: str) -> str:
        return self.tensors[key].tex

    def stage_steps(self, stage: int) -> list[Step]:
        """The parameter-free steps after Dense ``stage`` (activation, dropout …), in order."""
        return [s for s in self.steps if s.stage == stage and s.kind not in ("dense", "loss")]

    def dense_steps(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "dense"]

    @property
    def num_outputs(self) -> int:
        return math.prod(int(d) for d in self.tensors[self.output].shape[1:])


def network_plan(model: Sequential) -> NetworkPlan:
    """Walk ``model`` and name every matrix of its forward pass, as the equations use them.

    Layer l is a Dense layer with what follows it up to the next Dense (its activation, a
    dropout); l = 0 is the input and whatever comes before the first Dense (a Flatten).
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
            params = [_add(tensors, f"W{stage}", _indexed("W", stage), layer.W.shape, "param")]
            if layer.use_bias:
                params.append(
                    _add(tensors, f"b{stage}", _indexed("b", stage), (layer.units,), "param")
                )
            for key in params:
                tensors[key] = _with(tensors[key], layer.name, stage)
            output = _add(
                tensors, f"z{stage}", _indexed("Z", stage), shape, "pre", layer.name, stage
            )
            plan.steps.append(Step("dense", layer, stage, current, output, tuple(params)))
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
                tensors, f"{current}_drop", _tilde(base.tex), shape, "dropped", layer.name, stage
            )
            plan.steps.append(Step("dropout", layer, stage, current, output, mask=mask))
        elif isinstance(layer, Flatten):
            if len(layer.input_shape) == 1:
                continue  # already flat: a no-op
            output = _add(
                tensors, f"a{stage}", _indexed("A", stage), shape, "reshaped", layer.name, stage
            )
            plan.steps.append(Step("flatten", layer, stage, current, output))
        else:
            raise ValueError(
                f"the derivation covers Dense, activation, Dropout and Flatten layers; layer "
                f"{layer.name!r} is a {type(layer).__name__}"
            )
        current = output
    if stage == 0:
        raise ValueError("the derivation needs at least one Dense layer in the model")
    plan.depth = stage
    plan.output = current
    if model.loss is not None:
        tensors["y"] = Tensor("y", "Y", tensors[current].shape, "target")
        tensors["loss"] = Tensor("loss", r"\mathcal{L}", (), "loss")
        source = current
        if model._fused_loss is not None:
            plan.fused = True
            plan.logits = source = plan.steps[-1].source
        plan.steps.append(Step("loss", None, stage, source, "loss", ("y",)))
    return plan


def _indexed(letter: str, index: int) -> str:
    return f"{letter}_{index}" if index < 10 else f"{letter}_{{{index}}}"


def _delta(index: int) -> str:
    return _indexed(r"\delta", index)


def _tilde(tex: str) -> str:
    letter, _, rest = tex.partition("_")
    return rf"\tilde{{{letter}}}" + (f"_{rest}" if rest else "")


def _add(
    tensors: dict[str, Tensor],
    key: str,
    tex: str,
    shape: Shape,
    role: str,
    layer: str | None = None,
    stage: int = 0,
) -> str:
    """Add a tensor; a second one of the same name in one layer gets a prime (A_1')."""
    while key in tensors:
        key, tex = key + "p", tex + "'"
    tensors[key] = Tensor(key, tex, tuple(shape), role, layer, stage)
    return key


def _with(tensor: Tensor, layer: str | None, stage: int) -> Tensor:
    return Tensor(tensor.key, tensor.tex, tensor.shape, tensor.role, layer, stage)


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
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a chainrule Optimizer, got {type(optimizer).__name__}")
    return render(_document(network_plan(model), optimizer), fmt)


def _document(plan: NetworkPlan, optimizer: Optimizer | None) -> Document:
    model = plan.model
    loss = loss_math(plan)
    sizes = [math.prod(model.input_shape)] + [s.layer.units for s in plan.dense_steps()]
    title = f"One training step of a {'-'.join(map(str, sizes))} network"
    blocks: list[Block] = [
        _para(
            "Layers: "
            + ", ".join(_describe_layer(layer) for layer in model.layers)
            + f". Loss: {loss.name}."
        ),
        _para(
            "Layout: the engine's. A batch is a matrix with one example per row, and a layer "
            "computes $Z = A W + b$ with $W$ of shape `fan_in × fan_out`, $b$ added to every row. "
            "Textbooks write $z = W x + b$ for one example as a column: their $W$ is the "
            "transpose of this one (`fan_out × fan_in`), and their "
            "$\\delta^l = (W^{l+1})^\\top \\delta^{l+1} \\odot f'(z^l)$ is the "
            "$\\delta_l = (\\delta_{l+1} W_{l+1}^\\top) \\odot f_l'(Z_l)$ below."
        ),
        _para(
            "Notation: $m$ is the batch size (kept symbolic; every other size is this model's). "
            "Capitals are batch matrices with $m$ rows. $\\odot$ and $\\oslash$ multiply and "
            "divide element-wise; $[\\cdot]$ is 1 where true and 0 elsewhere; $\\mathbf{1}$ is a "
            "column of $m$ ones; $\\sum$ adds every entry of what follows. "
            "$\\delta_l = \\partial\\mathcal{L}/\\partial Z_l$ has the shape of $Z_l$."
        ),
        Heading("Shapes"),
        _shapes_table(plan),
        Heading("Forward pass"),
        Equations(_forward_rows(plan, loss)),
        Heading("Backward pass"),
        *_backward_blocks(plan, loss),
    ]
    if model.l2.strength > 0:
        blocks += _l2_blocks(plan)
    if optimizer is not None:
        blocks += _update_blocks(plan, optimizer)
    return Document(title, blocks, origin="Generated by chainrule derive.")


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
    for tensor in plan.tensors.values():
        if tensor.role == "loss":
            continue
        name = f"`{tensor.layer}`" if tensor.layer else ""
        if tensor.role == "param" and tensor.key.startswith("W"):
            meaning = f"weights of {name}; $\\partial\\mathcal{{L}}/\\partial {tensor.tex}$ has this shape"
        elif tensor.role == "param":
            meaning = (
                f"biases of {name}, stored as a vector of {tensor.shape[0]} and added to every row"
            )
        elif tensor.role == "pre":
            meaning = f"pre-activation of {name}; so is ${_delta(tensor.stage)}$"
        elif tensor.role == "act":
            meaning = f"output of {name}"
        elif tensor.role == "mask":
            meaning = f"dropout mask of {name}"
        elif tensor.role == "dropped":
            meaning = f"output of {name} (training); the input itself at inference"
        else:
            meaning = meanings[tensor.role]
        shape = (
            (1, *tensor.shape)
            if tensor.role == "param" and len(tensor.shape) == 1
            else tensor.shape
        )
        rows.append((f"${tensor.tex}$", f"${_shape_tex(shape)}$", meaning))
    return Table(("symbol", "shape", "meaning"), [[prose(cell) for cell in row] for row in rows])


def _forward_rows(plan: NetworkPlan, loss: LossEquations) -> list[Equation]:
    rows = []
    for step in plan.steps:
        out, src = plan.tex(step.output), plan.tex(step.source)
        shape = plan.tensors[step.output].shape
        layer = step.layer
        if step.kind == "flatten":
            before = _shape_tex(plan.tensors[step.source].shape)
            rows.append(
                _eq(
                    out,
                    "=",
                    rf"\operatorname{{reshape}}({src})",
                    shape,
                    f"from ${before}$; moves no values",
                )
            )
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


def _l2_blocks(plan: NetworkPlan) -> list[Block]:
    model = plan.model
    weights = [plan.tex(s.params[0]) for s in plan.dense_steps()]
    if model.l2_biases:
        weights += [plan.tex(s.params[1]) for s in plan.dense_steps() if len(s.params) > 1]
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
    params = [plan.tex(k) for s in plan.dense_steps() for k in s.params]
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
