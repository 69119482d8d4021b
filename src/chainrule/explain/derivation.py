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
``chainrule.nn.optim`` with their hyperparameter values.

One description of the equations renders three ways: Markdown with ``$…$`` math, a LaTeX
fragment (``align*`` environments; needs ``amsmath``), and plain Unicode text for a terminal.
``network_plan`` is the walk over the model that both this module and the computation graphs
(``chainrule.explain.graph``) are built from.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from chainrule.nn.layers import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Identity,
    ImprovedSigmoid,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.losses import BinaryCrossEntropy, CategoricalCrossEntropy, Loss, MeanSquaredError
from chainrule.nn.model import Sequential
from chainrule.nn.optim import SGD, AdaGrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RMSProp

__all__ = ["FORMATS", "NetworkPlan", "Step", "Tensor", "derive", "network_plan", "tex_to_text"]

FORMATS = ("markdown", "latex", "text")

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


# --------------------------------------------------------------------------- activations


@dataclass(frozen=True)
class ActivationMath:
    """An activation's forward and derivative, as ``chainrule.nn.layers.activations`` has them."""

    name: str
    forward: Callable[[str], str]  # Z -> f(Z), element-wise unless noted
    factor: Callable[[str, str], str] | None  # (Z, A) -> f'(Z) as an element-wise factor
    rule: str  # the derivative per element, tex
    how: str  # prose


def activation_math(layer: Activation) -> ActivationMath:
    """The math of one activation layer (the derivative table of the activations module)."""
    if isinstance(layer, Sigmoid):
        return ActivationMath(
            "sigmoid",
            lambda z: rf"\sigma({z})",
            lambda z, a: rf"{a} \odot (1 - {a})",
            r"\sigma'(z) = a(1 - a)",
            "from the output",
        )
    if isinstance(layer, Tanh):
        return ActivationMath(
            "tanh",
            lambda z: rf"\tanh({z})",
            lambda z, a: rf"(1 - {a} \odot {a})",
            r"\tanh'(z) = 1 - a^2",
            "from the output",
        )
    if isinstance(layer, ImprovedSigmoid):
        big, small = _num(layer.A), "2/3"
        return ActivationMath(
            "improved sigmoid",
            lambda z: rf"{big} \tanh({small} \cdot {z})",
            lambda z, a: rf"({small})({big} - {a} \odot {a}/{big})",
            rf"f'(z) = ({small})({big} - a^2/{big})",
            "from the output",
        )
    if isinstance(layer, LeakyReLU):
        s = _num(layer.slope)
        return ActivationMath(
            "leaky ReLU",
            lambda z: rf"\max({z}, {s} {z})" if layer.slope <= 1 else rf"\min({z}, {s} {z})",
            lambda z, a: rf"([{z} > 0] + {s}\,[{z} \le 0])",
            rf"f'(z) = 1 \text{{ if }} z > 0 \text{{ else }} {s}",
            "",
        )
    if isinstance(layer, ReLU):
        return ActivationMath(
            "ReLU",
            lambda z: rf"\max(0, {z})",
            lambda z, a: rf"[{z} > 0]",
            r"\operatorname{ReLU}'(z) = [z > 0]",
            "0 at z = 0; the engine reads it from the output as $[a > 0]$",
        )
    if isinstance(layer, Identity):
        return ActivationMath("identity", lambda z: z, None, "f'(z) = 1", "")
    if isinstance(layer, Softmax):
        return ActivationMath(
            "softmax",
            lambda z: rf"\operatorname{{softmax}}({z})",
            None,
            r"\partial a_j/\partial z_k = a_j([j = k] - a_k)",
            "row-wise; its Jacobian is $\\operatorname{diag}(a) - a a^\\top$ for each row",
        )
    raise ValueError(f"no derivative on record for activation {type(layer).__name__}")


# --------------------------------------------------------------------------- losses


@dataclass(frozen=True)
class LossMath:
    name: str
    value: str  # L in terms of the output (or logits) and Y
    gradient: str  # dL/d(output), or dL/d(logits) when fused / from logits
    note: str


def loss_math(plan: NetworkPlan) -> LossMath:
    """The loss's value and the gradient the backward pass starts from (engine conventions)."""
    loss = plan.loss
    if loss is None:
        raise ValueError(
            "the model has no loss; build it with loss=... to derive its backward pass"
        )
    a = plan.tex(plan.output)
    k = plan.num_outputs
    if plan.fused:
        z = plan.tex(plan.logits)
        if isinstance(loss, CategoricalCrossEntropy):
            return LossMath(
                "categorical cross-entropy, fused with the softmax",
                rf"-\sum Y \odot \log {a} \,/\, m",
                rf"({a} - Y)/m",
                f"the value is computed from the logits ${z}$ with log-sum-exp; the softmax Jacobian "
                f"$\\operatorname{{diag}}(a) - a a^\\top$ times $-y/a$ collapses to $a - y$",
            )
        return LossMath(
            "binary cross-entropy, fused with the sigmoid",
            rf"-\sum [Y \odot \log {a} + (1 - Y) \odot \log(1 - {a})] \,/\, (m k)",
            rf"({a} - Y)/(m k)",
            f"$k = {k}$ outputs per example, so the mean runs over $m k$ terms; the value is "
            f"computed from the logits ${z}$; $\\sigma'(z) = a(1 - a)$ cancels the $a(1 - a)$ of $\\partial\\mathcal{{L}}/\\partial a$",
        )
    if isinstance(loss, MeanSquaredError):
        norm = rf"\lVert{{{a} - Y}}\rVert_F^2"
        forms = {
            "mean": (rf"{norm} \,/\, (m k)", rf"2({a} - Y)/(m k)", f"$k = {k}$ outputs; "),
            "sum": (rf"{norm} \,/\, m", rf"2({a} - Y)/m", ""),
            "half_sum": (rf"{norm} \,/\, (2m)", rf"({a} - Y)/m", ""),
        }
        value, gradient, prefix = forms[loss.reduction]
        return LossMath(
            f"mean squared error (reduction '{loss.reduction}')",
            value,
            gradient,
            prefix + "$\\lVert \\cdot \\rVert_F^2$ sums the squares of every entry",
        )
    if isinstance(loss, BinaryCrossEntropy):
        if loss.from_logits:
            return LossMath(
                "binary cross-entropy from logits",
                rf"\sum [\max({a}, 0) - {a} \odot Y + \log(1 + e^{{-|{a}|}})] \,/\, (m k)",
                rf"(\sigma({a}) - Y)/(m k)",
                f"$k = {k}$ outputs; the output ${a}$ is read as logits",
            )
        return LossMath(
            "binary cross-entropy",
            rf"-\sum [Y \odot \log {a} + (1 - Y) \odot \log(1 - {a})] \,/\, (m k)",
            rf"({a} - Y) \oslash ({a} \odot (1 - {a}))/(m k)",
            f"$k = {k}$ outputs; divisors clamped at $10^{{-12}}$",
        )
    if isinstance(loss, CategoricalCrossEntropy):
        if loss.from_logits:
            return LossMath(
                "categorical cross-entropy from logits",
                rf"\sum_i [\operatorname{{logsumexp}}({a})_i - Y_i \cdot ({a})_i] \,/\, m",
                rf"(\operatorname{{softmax}}({a}) - Y)/m",
                f"the output ${a}$ is read as logits",
            )
        return LossMath(
            "categorical cross-entropy",
            rf"-\sum Y \odot \log {a} \,/\, m",
            rf"-Y \oslash {a} \,/\, m",
            "divisors clamped at $10^{-12}$",
        )
    raise ValueError(f"no derivation on record for the loss {type(loss).__name__}")


# --------------------------------------------------------------------------- optimizers


def optimizer_math(optimizer: Optimizer) -> tuple[str, list[tuple[str, str, str, str]], str]:
    """(name, [(lhs, relation, rhs, note)], hyperparameters as inline tex) of an update rule."""
    lr = rf"\eta = {_num(optimizer.learning_rate)}"
    arrow = r"\leftarrow"
    theta = r"\theta"
    if isinstance(optimizer, Nesterov):
        rows = [
            ("v", arrow, r"\mu v + g", "velocity, starts at 0"),
            (theta, arrow, r"\theta - \eta (g + \mu v)", "look-ahead with the new velocity"),
        ]
        return "Nesterov momentum", rows, rf"{lr}, \mu = {_num(optimizer.momentum)}"
    if isinstance(optimizer, Momentum):
        rows = [
            ("v", arrow, r"\mu v + g", "velocity, starts at 0 (so the first v is g)"),
            (theta, arrow, r"\theta - \eta v", ""),
        ]
        return "SGD with momentum", rows, rf"{lr}, \mu = {_num(optimizer.momentum)}"
    if isinstance(optimizer, AdaGrad):
        rows = [
            ("s", arrow, r"s + g \odot g", "sum of squared gradients, starts at 0"),
            (
                theta,
                arrow,
                r"\theta - \eta\, g \oslash (\sqrt{s} + \epsilon)",
                r"$\epsilon$ outside the root",
            ),
        ]
        return "AdaGrad", rows, rf"{lr}, \epsilon = {_num(optimizer.epsilon)}"
    if isinstance(optimizer, RMSProp):
        rows = [
            (
                "s",
                arrow,
                r"\rho s + (1 - \rho)\, g \odot g",
                "running mean of squares, starts at 0",
            ),
            (
                theta,
                arrow,
                r"\theta - \eta\, g \oslash (\sqrt{s} + \epsilon)",
                r"$\epsilon$ outside the root",
            ),
        ]
        hyper = rf"{lr}, \rho = {_num(optimizer.rho)}, \epsilon = {_num(optimizer.epsilon)}"
        return "RMSProp", rows, hyper
    if isinstance(optimizer, Adam):
        rows = []
        name = "Adam"
        hyper = (
            rf"{lr}, \beta_1 = {_num(optimizer.beta1)}, \beta_2 = {_num(optimizer.beta2)}, "
            rf"\epsilon = {_num(optimizer.epsilon)}"
        )
        if isinstance(optimizer, AdamW):
            name = "AdamW"
            rows.append(
                (
                    theta,
                    arrow,
                    r"\theta\,(1 - \eta \lambda_w)",
                    "decoupled weight decay, first; biases too",
                )
            )
            hyper += rf", \lambda_w = {_num(optimizer.weight_decay)}"
        rows += [
            (
                "m",
                arrow,
                r"\beta_1 m + (1 - \beta_1)\, g",
                "first moment (this m is not the batch size)",
            ),
            (
                "v",
                arrow,
                r"\beta_2 v + (1 - \beta_2)\, g \odot g",
                "second moment; both start at 0",
            ),
            (r"\hat{m}", "=", r"m/(1 - \beta_1^t)", "bias corrections; t = 1, 2, … counts steps"),
            (r"\hat{v}", "=", r"v/(1 - \beta_2^t)", ""),
            (
                theta,
                arrow,
                r"\theta - \eta\, \hat{m} \oslash (\sqrt{\hat{v}} + \epsilon)",
                r"$\epsilon$ added to $\sqrt{\hat{v}}$",
            ),
        ]
        return name, rows, hyper
    if isinstance(optimizer, SGD):
        return "gradient descent (SGD)", [(theta, arrow, r"\theta - \eta g", "")], lr
    raise ValueError(
        f"no update rule on record for {type(optimizer).__name__}; the derivation knows SGD, "
        "Momentum, Nesterov, AdaGrad, RMSProp, Adam and AdamW"
    )


# --------------------------------------------------------------------------- the document


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str  # prose; $…$ is inline math, `…` a name


@dataclass(frozen=True)
class Eq:
    lhs: str
    rel: str
    rhs: str
    shape: Shape | None = None
    note: str = ""  # prose


@dataclass(frozen=True)
class Eqs:
    rows: tuple[Eq, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]  # prose
    rows: tuple[tuple[str, ...], ...]  # prose cells


Block = Heading | Para | Eqs | Table


def derive(model: Sequential, optimizer: Optimizer | None = None, fmt: str = "markdown") -> str:
    """The vectorized equations of one training step of ``model``, with every matrix's shape.

    ``fmt`` is ``"markdown"`` (``$…$`` math), ``"latex"`` (a fragment with ``align*``
    environments; ``\\usepackage{amsmath}``) or ``"text"`` (plain Unicode for a terminal).
    Without ``optimizer`` the update section is left out.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a chainrule Optimizer, got {type(optimizer).__name__}")
    blocks = _document(network_plan(model), optimizer)
    return {"markdown": _render_markdown, "latex": _render_latex, "text": _render_text}[fmt](blocks)


def _document(plan: NetworkPlan, optimizer: Optimizer | None) -> list[Block]:
    model = plan.model
    loss = loss_math(plan)
    sizes = [math.prod(model.input_shape)] + [s.layer.units for s in plan.dense_steps()]
    blocks: list[Block] = [
        Heading(f"One training step of a {'-'.join(map(str, sizes))} network", 1),
        Para(
            "Layers: "
            + ", ".join(_describe_layer(layer) for layer in model.layers)
            + f". Loss: {loss.name}."
        ),
        Para(
            "Layout: the engine's. A batch is a matrix with one example per row, and a layer "
            "computes $Z = A W + b$ with $W$ of shape `fan_in × fan_out`, $b$ added to every row. "
            "Textbooks write $z = W x + b$ for one example as a column: their $W$ is the "
            "transpose of this one (`fan_out × fan_in`), and their "
            "$\\delta^l = (W^{l+1})^\\top \\delta^{l+1} \\odot f'(z^l)$ is the "
            "$\\delta_l = (\\delta_{l+1} W_{l+1}^\\top) \\odot f_l'(Z_l)$ below."
        ),
        Para(
            "Notation: $m$ is the batch size (kept symbolic; every other size is this model's). "
            "Capitals are batch matrices with $m$ rows. $\\odot$ and $\\oslash$ multiply and "
            "divide element-wise; $[\\cdot]$ is 1 where true and 0 elsewhere; $\\mathbf{1}$ is a "
            "column of $m$ ones; $\\sum$ adds every entry of what follows. "
            "$\\delta_l = \\partial\\mathcal{L}/\\partial Z_l$ has the shape of $Z_l$."
        ),
        Heading("Shapes"),
        _shapes_table(plan),
        Heading("Forward pass"),
        Eqs(tuple(_forward_rows(plan, loss))),
        Heading("Backward pass"),
        *_backward_blocks(plan, loss),
    ]
    if model.l2.strength > 0:
        blocks += _l2_blocks(plan)
    if optimizer is not None:
        blocks += _update_blocks(plan, optimizer)
    return blocks


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
    return Table(("symbol", "shape", "meaning"), tuple(rows))


def _forward_rows(plan: NetworkPlan, loss: LossMath) -> list[Eq]:
    rows = []
    for step in plan.steps:
        out, src = plan.tex(step.output), plan.tex(step.source)
        shape = plan.tensors[step.output].shape
        layer = step.layer
        if step.kind == "flatten":
            before = _shape_tex(plan.tensors[step.source].shape)
            rows.append(
                Eq(
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
                Eq(out, "=", f"{src} {plan.tex(step.params[0])}{bias}", shape, f"`{layer.name}`")
            )
        elif step.kind == "activation":
            info = activation_math(layer)
            how = "row-wise" if isinstance(layer, Softmax) else "element-wise"
            rows.append(Eq(out, "=", info.forward(src), shape, f"{info.name}, {how}"))
        elif step.kind == "dropout":
            mask = plan.tex(step.mask)
            keep = _num(1 - layer.rate)
            rows.append(
                Eq(
                    out,
                    "=",
                    rf"{src} \odot {mask}",
                    shape,
                    f"${mask}$ is $1/{keep}$ with probability ${keep}$, else 0 (rate "
                    f"${_num(layer.rate)}$); at inference ${out} = {src}$",
                )
            )
        elif step.kind == "loss":
            rows.append(Eq(r"\mathcal{L}", "=", loss.value, None, "averaged over the batch"))
    return rows


def _backward_blocks(plan: NetworkPlan, loss: LossMath) -> list[Block]:
    depth = plan.depth
    blocks: list[Block] = [Heading("Output delta", 3)]
    rows: list[Eq] = []
    if plan.fused:
        start_key = plan.logits
        start_expr = loss.gradient
    else:
        start_key = plan.output
        start_expr = rf"\partial\mathcal{{L}}/\partial {plan.tex(plan.output)}"
        rows.append(Eq(start_expr, "=", loss.gradient, plan.tensors[plan.output].shape, ""))
    rows += _delta_rows(plan, depth, start_key, start_expr)
    if plan.fused and len(rows) == 1:
        rows[0] = Eq(
            rows[0].lhs,
            rows[0].rel,
            rows[0].rhs,
            rows[0].shape,
            "the backward pass starts here, at the logits",
        )
    blocks.append(Eqs(tuple(rows)))
    blocks.append(Para(loss.note[0].upper() + loss.note[1:] + "."))
    if depth > 1:
        blocks.append(Heading("Delta recursion", 3))
        blocks.append(
            Para(
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
        blocks.append(Eqs(tuple(rows)))
    blocks.append(Heading("Parameter gradients", 3))
    rows = []
    l2 = plan.model.l2.strength > 0
    for index in range(depth, 0, -1):
        step = _dense_step(plan, index)
        source, weight = plan.tex(step.source), plan.tex(step.params[0])
        decay = rf" + \lambda {weight}" if l2 else ""
        rows.append(
            Eq(
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
                Eq(
                    rf"\partial\mathcal{{L}}/\partial {bias}",
                    "=",
                    rf"\mathbf{{1}}^\top {_delta(index)}{decay}",
                    (1, plan.tensors[step.params[1]].shape[0]),
                    f"column sums of ${_delta(index)}$",
                )
            )
    blocks.append(Eqs(tuple(rows)))
    first = _dense_step(plan, 1)
    blocks.append(
        Para(
            f"Each $\\delta_l W_l^\\top$ is the gradient passed to the layer below; for $l = 1$ it "
            f"would be $\\partial\\mathcal{{L}}/\\partial {plan.tex(first.source)}$, which no "
            "parameter needs, so the engine skips it."
        )
    )
    return blocks


def _dense_step(plan: NetworkPlan, stage: int) -> Step:
    return next(s for s in plan.dense_steps() if s.stage == stage)


def _delta_rows(plan: NetworkPlan, stage: int, start_key: str, start_expr: str) -> list[Eq]:
    """Rows from ∂L/∂(tensor ``start_key``) = ``start_expr`` back to δ_stage = ∂L/∂Z_stage."""
    ops = plan.stage_steps(stage)
    keys = [s.output for s in ops]
    ops = ops[: keys.index(start_key) + 1] if start_key in keys else []
    z_shape = plan.tensors[f"z{stage}"].shape if f"z{stage}" in plan.tensors else None
    delta = _delta(stage)
    rows: list[Eq] = []
    expr, factors, notes = start_expr, [], []
    for op in reversed(ops):
        layer = op.layer
        if op.kind == "dropout":
            factors.append(plan.tex(op.mask))
            notes.append("dropout's mask")
        elif op.kind == "activation":
            info = activation_math(layer)
            z, a = plan.tex(op.source), plan.tex(op.output)
            if info.factor is not None:
                factors.append(info.factor(z, a))
                how = f", {info.how}" if info.how else ""
                notes.append(f"${info.rule}${how}")
            elif isinstance(layer, Softmax):
                gradient = rf"\partial\mathcal{{L}}/\partial {a}"
                if factors or expr != gradient:
                    rows.append(
                        Eq(
                            gradient,
                            "=",
                            _product(expr, factors),
                            plan.tensors[op.output].shape,
                            "; ".join(notes),
                        )
                    )
                expr, factors, notes = (
                    rf"{a} \odot (G - \operatorname{{rowsum}}(G \odot {a}))",
                    [],
                    [f"softmax's Jacobian row by row, $G = {gradient}$"],
                )
                if (
                    plan.loss is not None
                    and not plan.fused
                    and isinstance(plan.loss, CategoricalCrossEntropy)
                    and stage == plan.depth
                ):
                    notes.append(f"for one-hot $Y$ this is $({a} - Y)/m$, what fusing computes")
    rows.append(Eq(delta, "=", _product(expr, factors), z_shape, "; ".join(notes)))
    return rows


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
        Eqs(
            (
                Eq(
                    r"\mathcal{L}_{\text{total}}",
                    "=",
                    rf"\mathcal{{L}} + (\lambda/2)({terms})",
                    None,
                    f"$\\lambda = {_num(model.l2.strength)}$",
                ),
            )
        ),
        Para(
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
        Para(
            f"For each parameter $\\theta \\in \\{{{shown}\\}}$, with "
            "$g = \\partial\\mathcal{L}/\\partial\\theta$ from above (averaged over the batch), "
            "element-wise; the engine updates every parameter at once in one flat buffer, and "
            "each keeps its own optimizer state."
        ),
        Eqs(tuple(Eq(lhs, rel, rhs, None, note) for lhs, rel, rhs, note in rows)),
        Para(f"Hyperparameters: ${hyper}$."),
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


# --------------------------------------------------------------------------- rendering

_MATH_OR_CODE = re.compile(r"(\$[^$]*\$|`[^`]*`)")


def _segments(prose: str) -> list[tuple[str, str]]:
    """Split prose into ("text" | "math" | "code", content) pieces."""
    pieces = []
    for part in _MATH_OR_CODE.split(prose):
        if not part:
            continue
        if part.startswith("$"):
            pieces.append(("math", part[1:-1]))
        elif part.startswith("`"):
            pieces.append(("code", part[1:-1]))
        else:
            pieces.append(("text", part))
    return pieces


# -- Markdown


def _render_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text)
        elif isinstance(block, Para):
            out.append(block.text)
        elif isinstance(block, Eqs):
            lines = []
            for eq in block.rows:
                line = f"- ${eq.lhs} {eq.rel} {eq.rhs}$"
                if eq.shape is not None:
                    line += f" $({_shape_tex(eq.shape)})$"
                if eq.note:
                    line += f" — {eq.note}"
                lines.append(line)
            out.append("\n".join(lines))
        elif isinstance(block, Table):
            lines = [
                "| " + " | ".join(block.header) + " |",
                "|" + "---|" * len(block.header),
            ]
            lines += ["| " + " | ".join(row) + " |" for row in block.rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


# -- LaTeX

_LATEX_NOTE_WIDTH = 44

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "—": "---",
    "–": "--",
    "→": r"$\to$",
    "×": r"$\times$",
    "·": r"$\cdot$",
    "…": r"\ldots{}",
    "’": "'",
    "−": "-",
}


def latex_escape(text: str) -> str:
    """Prose for LaTeX: special characters escaped, the few non-ASCII ones spelled in ASCII."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_prose(prose: str) -> str:
    out = []
    for kind, content in _segments(prose):
        if kind == "math":
            out.append(f"${content}$")
        elif kind == "code":
            out.append(r"\texttt{" + latex_escape(content) + "}")
        else:
            out.append(latex_escape(content))
    return "".join(out)


def _render_latex(blocks: list[Block]) -> str:
    out = [
        "% Generated by chainrule derive. A fragment: \\input{} it into a document that loads\n"
        "% \\usepackage{amsmath} (align*, \\text, \\operatorname, \\lVert)."
    ]
    commands = {1: "section*", 2: "subsection*", 3: "subsubsection*"}
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"\\{commands[block.level]}{{{_latex_prose(block.text)}}}")
        elif isinstance(block, Para):
            out.append(_latex_prose(block.text))
        elif isinstance(block, Eqs):
            lines, long_notes = [], []
            for eq in block.rows:
                line = f"  {eq.lhs} &{eq.rel} {eq.rhs}"
                extra = []
                if eq.shape is not None:
                    extra.append(f"({_shape_tex(eq.shape)})")
                if eq.note and _width(_text_prose(eq.note)) <= _LATEX_NOTE_WIDTH:
                    extra.append(r"\text{" + _latex_prose(eq.note) + "}")
                elif eq.note:  # too long for the line: a paragraph after the equations
                    long_notes.append(f"${eq.lhs}$: " + _latex_prose(eq.note) + ".")
                if extra:
                    line += " && " + r" \quad ".join(extra)
                lines.append(line)
            out.append("\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}")
            out += long_notes
        elif isinstance(block, Table):
            spec = "l" * len(block.header)
            lines = [
                f"\\begin{{tabular}}{{{spec}}}",
                "\\hline",
                " & ".join(_latex_prose(h) for h in block.header) + r" \\",
                "\\hline",
            ]
            lines += [" & ".join(_latex_prose(c) for c in row) + r" \\" for row in block.rows]
            lines += ["\\hline", "\\end{tabular}"]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


# -- plain text


def _render_text(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            title = _text_prose(block.text)
            rule = {1: "=", 2: "-", 3: "·"}[block.level]
            out.append(title + "\n" + rule * _width(title))
        elif isinstance(block, Para):
            out.append(_wrap(_text_prose(block.text, keep_math_together=True)))
        elif isinstance(block, Eqs):
            rows = [
                (
                    tex_to_text(eq.lhs),
                    tex_to_text(eq.rel),
                    tex_to_text(eq.rhs),
                    "×".join(map(str, eq.shape)) if eq.shape else "",
                    _text_prose(eq.note, keep_math_together=True),
                )
                for eq in block.rows
            ]
            lhs_width = max(_width(r[0]) for r in rows)
            rhs_width = min(44, max(_width(r[2]) for r in rows))
            shape_width = max(_width(r[3]) for r in rows)
            lines = []
            for lhs, rel, rhs, shape, note in rows:
                line = f"  {_pad(lhs, lhs_width)} {rel} {_pad(rhs, rhs_width)}"
                if shape_width:
                    line += f"   {_pad(shape, shape_width)}"
                if note and _width(line) + 3 + _width(note) > _TEXT_WIDTH:
                    lines.append(line.rstrip())  # the note goes on its own lines, indented
                    indent = " " * (4 + lhs_width)
                    wrapped = _wrap(note, _TEXT_WIDTH - len(indent))
                    lines += [indent + part for part in wrapped.split("\n")]
                    continue
                if note:
                    line += "   " + note.replace("\u00a0", " ")
                lines.append(line.rstrip())
            out.append("\n".join(lines))
        elif isinstance(block, Table):
            cells = [[_text_prose(c) for c in block.header]]
            cells += [[_text_prose(c) for c in row] for row in block.rows]
            widths = [max(_width(row[i]) for row in cells) for i in range(len(block.header))]
            lines = [
                "  " + "   ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip()
                for row in cells
            ]
            lines.insert(1, "  " + "   ".join("─" * w for w in widths))
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _text_prose(prose: str, keep_math_together: bool = False) -> str:
    """Prose as plain text; math converted (with no-break spaces when it must not wrap)."""
    pieces = []
    for kind, content in _segments(prose):
        if kind == "math":
            math_text = tex_to_text(content)
            pieces.append(math_text.replace(" ", "\u00a0") if keep_math_together else math_text)
        else:
            pieces.append(content)
    return "".join(pieces)


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(ch) else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


_TEXT_WIDTH = 100


def _wrap(text: str, width: int = 92) -> str:
    lines, line = [], ""
    for word in text.split(" "):
        if line and _width(line) + 1 + _width(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines).replace("\u00a0", " ")


# -- LaTeX math to Unicode

_SYMBOLS = {
    "alpha": "α", "beta": "β", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "eta": "η",
    "lambda": "λ", "mu": "μ", "rho": "ρ", "sigma": "σ", "theta": "θ", "partial": "∂",
    "odot": "⊙", "oslash": "⊘", "times": "×", "cdot": "·", "leftarrow": "←", "to": "→",
    "le": "≤", "ge": "≥", "in": "∈", "ldots": "…", "sum": "Σ", "top": "⊤", "lVert": "‖",
    "rVert": "‖", "log": "log", "exp": "exp", "max": "max", "min": "min", "tanh": "tanh",
    "quad": "  ", ",": " ", ";": " ", "!": "", "{": "{", "}": "}", "|": "‖", "_": "_",
    "%": "%", "left": "", "right": "",
}  # fmt: skip
_ARGUMENT_COMMANDS = {"text", "operatorname", "mathrm", "mathbf", "mathcal", "mathit", "tilde", "hat", "sqrt", "bar"}  # fmt: skip
_SUBSCRIPTS = dict(
    zip("0123456789+-=()aehijklmnoprstuvx−", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ₋", strict=True)
)
_SUPERSCRIPTS = dict(
    zip(
        "0123456789+-=()abcdefghijklmnoprstuvwxyzT⊤−'",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵀᵀ⁻′",
        strict=True,
    )
)


def tex_to_text(tex: str) -> str:
    """The math this module writes, as plain Unicode: ``\\delta_2 W_2^\\top`` -> ``δ₂ W₂ᵀ``."""
    text, _ = _convert(tex, 0)
    # NFC: A + combining tilde becomes the one character Ã where Unicode has it.
    return unicodedata.normalize("NFC", re.sub(r" {2,}", " ", text).strip())


def _convert(tex: str, i: int, stop: str | None = None) -> tuple[str, int]:
    out: list[str] = []
    while i < len(tex):
        ch = tex[i]
        if stop is not None and ch == stop:
            return "".join(out), i + 1
        if ch == "{":
            group, i = _convert(tex, i + 1, "}")
            out.append(group)
        elif ch == "\\":
            name, i = _command_name(tex, i + 1)
            if name in _ARGUMENT_COMMANDS:
                argument, i = _argument(tex, i)
                out.append(_apply(name, argument))
            else:
                out.append(_SYMBOLS.get(name, name))
                if name == "partial":  # ∂L/∂W, not ∂L/∂ W
                    while i < len(tex) and tex[i] == " ":
                        i += 1
        elif ch in "_^":
            argument, i = _argument(tex, i + 1)
            out.append(_script(argument, _SUBSCRIPTS if ch == "_" else _SUPERSCRIPTS, ch))
        elif ch == "-":
            out.append("−")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out), i


def _command_name(tex: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(tex) and tex[j].isalpha():
        j += 1
    if j == i:  # a one-character command: \, \; \{ \|
        return tex[i : i + 1], i + 1
    return tex[i:j], j


def _argument(tex: str, i: int) -> tuple[str, int]:
    """The next group or single token, converted."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        return _convert(tex, i + 1, "}")
    if tex[i] == "\\":
        name, j = _command_name(tex, i + 1)
        return _SYMBOLS.get(name, name), j
    return ("−" if tex[i] == "-" else tex[i]), i + 1


def _apply(command: str, argument: str) -> str:
    if command == "tilde":
        return argument[:1] + "\u0303" + argument[1:]
    if command == "hat":
        return argument[:1] + "\u0302" + argument[1:]
    if command == "bar":
        return argument[:1] + "\u0304" + argument[1:]
    if command == "sqrt":
        return "√" + (argument if _width(argument) == 1 else f"({argument})")
    return argument


def _script(argument: str, table: dict[str, str], mark: str) -> str:
    if argument and all(ch in table for ch in argument):
        return "".join(table[ch] for ch in argument)
    return mark + (argument if _width(argument) == 1 else f"({argument})")
