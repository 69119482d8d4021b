"""The worked example: every number of forward, loss, backward and update, with its formula.

Notation (textbook layout, 1-based indices as in lecture notes): layer l computes

    z_l = W_l a_{l-1} + b_l,    a_l = f_l(z_l),    a_0 = x,

W_l[j, k] connects input k to neuron j (rows = output neurons). Backward, δ_l = dL/dz_l:

    output layer L:  δ_L = dL/da_L ⊙ f_L'(z_L)        (fused sigmoid/softmax + CE: a_L - y)
    hidden layer l:  dL/da_l = W_{l+1}ᵀ δ_{l+1},   δ_l = dL/da_l ⊙ f_l'(z_l)
                     (softmax: δ_l[j] = Σ_i dL/da_l[i] · a_l[i] ([i = j] - a_l[j]))
    gradients:       dL/dW_l[j, k] = δ_l[j] · a_{l-1}[k],    dL/db_l[j] = δ_l[j]

With a batch of m examples, L is the mean of the per-example losses L_i (as in the engine),
δ is each example's dL_i/dz, and each gradient is the mean of the per-example gradients.

Everything is float64. The activations' values and derivatives come from the engine's own
activation layers, the losses' values and dL/da from its loss classes, and the updates from
its optimizers run on a flat float64 buffer, so the numbers are the engine's numbers. The
record keeps both the arrays (for programs and tests) and, for each number, an ``Equation``
(formula, then the same formula with numbers) that ``render`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chainrule.explain.spec import ExplainSpec
from chainrule.nn.gradcheck import numerical_gradient, relative_error
from chainrule.nn.layers import Activation
from chainrule.nn.losses import get_loss
from chainrule.reporting.expr import (
    FUNCTIONS,
    Add,
    BatchMean,
    Call,
    Cases,
    Deriv,
    Div,
    Expr,
    Frac,
    Int,
    Mul,
    Neg,
    Num,
    Pow,
    Raw,
    State,
    Sub,
    Sym,
    latex_number,
)

#: Agreement required between this computation and the engine's backward pass (both
#: float64, same formulas, summed in a different order).
ENGINE_RTOL, ENGINE_ATOL = 1e-9, 1e-12
#: Agreement required with central differences (h = 1e-6): |analytic - numeric| <= atol + rtol|numeric|.
FD_STEP, FD_RTOL, FD_ATOL = 1e-6, 1e-5, 1e-8

LOSS = Raw("L", "L")


# -- the record ------------------------------------------------------------------------------
@dataclass
class Equation:
    """``lhs relation rhs[0] = rhs[1] = ... = value``: formulas first, then numbers."""

    lhs: Expr
    rhs: list[Expr]
    value: float
    relation: str = "="  # "=" or "<-" (an assignment: an update)
    #: For an update, the old value: the new one is printed with enough digits to show the change.
    reference: float | None = None


Note = tuple  # segments, each a str (prose) or an Expr (math)


@dataclass
class Block:
    """A titled group: general formulas first, then notes, matrices, then the equations."""

    title: str
    formulas: list[Expr] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    #: Groups printed side by side: (name, values) or (name, values, values before an update).
    matrices: list[list[tuple]] = field(default_factory=list)
    equations: list[Equation] = field(default_factory=list)


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class ExampleState:
    """One example's numbers at one step; lists are indexed by layer - 1."""

    x: np.ndarray
    y: np.ndarray
    z: list[np.ndarray]
    a: list[np.ndarray]
    loss: float
    #: dL/da_l; None for the output layer when the loss is fused with its activation.
    dL_da: list[np.ndarray | None]
    #: f_l'(z_l) (a vector), or the softmax Jacobian J[i, j] = da_l[i]/dz_l[j]; None when fused.
    local: list[np.ndarray | None]
    delta: list[np.ndarray]

    def activation_input(self, layer: int) -> np.ndarray:
        """a_{layer-1}, the input of layer ``layer`` (x for layer 1)."""
        return self.x if layer == 1 else self.a[layer - 2]


@dataclass
class Verification:
    """This computation against the engine's backward pass and against finite differences."""

    engine_max_difference: float
    engine_loss_difference: float
    fd_max_difference: float
    fd_max_relative_error: float
    engine_passed: bool
    fd_passed: bool

    @property
    def passed(self) -> bool:
        return self.engine_passed and self.fd_passed


@dataclass
class StepRecord:
    """One training step: the numbers, and the sections that print them."""

    number: int
    W: list[np.ndarray]
    b: list[np.ndarray]
    examples: list[ExampleState]
    loss: float
    dW: list[np.ndarray]
    db: list[np.ndarray]
    W_new: list[np.ndarray]
    b_new: list[np.ndarray]
    sections: list[Section]
    verification: Verification
    paths: list = field(default_factory=list)  # list[paths.PathSet], step 1 only


@dataclass
class WorkedExample:
    spec: ExplainSpec
    source: str
    overview: Section
    steps: list[StepRecord]
    final_loss: float
    final_W: list[np.ndarray]
    final_b: list[np.ndarray]
    summary: Section


# -- symbols ---------------------------------------------------------------------------------
def sym_a(layer: int, j: int) -> Sym:
    """a_layer[j], or x[j] for layer 0."""
    return Sym("x", None, (j,)) if layer == 0 else Sym("a", layer, (j,))


def sym_z(layer: int, j: int) -> Sym:
    return Sym("z", layer, (j,))


def sym_W(layer: int, j: int, k: int) -> Sym:
    return Sym("W", layer, (j, k))


def sym_b(layer: int, j: int) -> Sym:
    return Sym("b", layer, (j,))


def sym_y(j: int) -> Sym:
    return Sym("y", None, (j,))


def sym_delta(layer: int, j: int) -> Sym:
    return Sym("δ", layer, (j,))


def vector_name(layer: int) -> tuple[str, str]:
    """('x', 'x') for layer 0, ('a1', 'a^{(1)}') otherwise."""
    return ("x", "x") if layer == 0 else (f"a{layer}", f"a^{{({layer})}}")


#: Per activation: how the forward function is defined, and how its derivative is read.
ACTIVATION_TEXT = {
    "identity": (
        ("identity(z) = z", "\\operatorname{id}(z) = z"),
        ("identity'(z) = 1", "\\operatorname{id}'(z) = 1"),
    ),
    "relu": (
        ("ReLU(z) = max(0, z)", "\\operatorname{ReLU}(z) = \\max(0, z)"),
        (
            "ReLU'(z) = 1 if z > 0 else 0 (0 at z = 0, as the engine takes it)",
            "\\operatorname{ReLU}'(z) = 1 \\text{ if } z > 0 \\text{ else } 0",
        ),
    ),
    "leaky_relu": (
        (
            "LeakyReLU(z) = z if z > 0 else {slope}*z",
            "\\operatorname{LeakyReLU}(z) = z \\text{ if } z > 0 \\text{ else } {slope} z",
        ),
        (
            "LeakyReLU'(z) = 1 if z > 0 else {slope}",
            "\\operatorname{LeakyReLU}'(z) = 1 \\text{ if } z > 0 \\text{ else } {slope}",
        ),
    ),
    "sigmoid": (
        ("sigmoid(z) = 1 / (1 + exp(-z))", "\\sigma(z) = \\frac{1}{1 + e^{-z}}"),
        ("sigmoid'(z) = a*(1 - a), from the output a", "\\sigma'(z) = a (1 - a)"),
    ),
    "tanh": (
        (
            "tanh(z) = (e^z - e^-z) / (e^z + e^-z)",
            "\\tanh z = \\frac{e^z - e^{-z}}{e^z + e^{-z}}",
        ),
        ("tanh'(z) = 1 - a^2, from the output a", "\\tanh'(z) = 1 - a^2"),
    ),
    "improved_sigmoid": (
        (
            "isig(z) = 1.7159*tanh(2z/3), LeCun's improved sigmoid",
            "\\operatorname{isig}(z) = 1.7159 \\tanh(2z/3)",
        ),
        (
            "isig'(z) = (2/3)*(1.7159 - a^2/1.7159), from the output a",
            "\\operatorname{isig}'(z) = \\tfrac{2}{3}(1.7159 - a^2/1.7159)",
        ),
    ),
    "softmax": (
        (
            "softmax(z)[j] = exp(z[j]) / Σ_k exp(z[k])",
            "\\operatorname{softmax}(z)_j = \\frac{e^{z_j}}{\\sum_k e^{z_k}}",
        ),
        (
            "da[i]/dz[j] = a[i]*([i = j] - a[j]): not diagonal, every output depends on every z",
            "\\frac{\\partial a_i}{\\partial z_j} = a_i([i = j] - a_j)",
        ),
    ),
}


def _activation_lines(spec: ExplainSpec, layer: int, which: int) -> Raw:
    layer_spec = spec.layers[layer - 1]
    plain, tex = ACTIVATION_TEXT[layer_spec.activation_name][which]
    slope = getattr(layer_spec.make_activation(), "slope", None)
    if slope is not None:
        plain, tex = plain.replace("{slope}", f"{slope:g}"), tex.replace("{slope}", f"{slope:g}")
    return Raw(plain, tex)


# -- forward ---------------------------------------------------------------------------------
def _forward(
    spec: ExplainSpec, W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray], list[Activation]]:
    """z_l and a_l for one example, through the engine's activation layers (kept for backward)."""
    zs, activations, layers = [], [], []
    a = x
    for number, layer_spec in enumerate(spec.layers, start=1):
        z = W[number - 1] @ a + b[number - 1]
        layer = layer_spec.make_activation()
        a = layer.forward(z[None, :], training=True)[0].copy()
        zs.append(z)
        activations.append(a)
        layers.append(layer)
    return zs, activations, layers


def _pre_activation(a_prev: np.ndarray, W: np.ndarray, b: np.ndarray, j: int) -> Expr:
    """x[1]*W[j,1] + x[2]*W[j,2] + ... + b[j] with numbers (input first, as textbooks write)."""
    terms: list[Expr] = [Mul(Num(a_prev[k]), Num(W[j, k])) for k in range(len(a_prev))]
    return Add(*terms, Num(b[j]))


def _forward_blocks(
    spec: ExplainSpec, W: list[np.ndarray], b: list[np.ndarray], example: ExampleState
) -> list[Block]:
    blocks = []
    widths = spec.widths
    for number in range(1, spec.n_layers + 1):
        name = spec.layers[number - 1].activation_name
        a_prev = example.activation_input(number)
        z, a = example.z[number - 1], example.a[number - 1]
        prev_plain, prev_tex = vector_name(number - 1)
        fn_plain = _fn_text(name)
        block = Block(
            f"Layer {number}: {fn_plain}, {widths[number - 1]} input"
            f"{'s' * (widths[number - 1] != 1)} -> {widths[number]} neuron"
            f"{'s' * (widths[number] != 1)}"
        )
        sum_plain = f"Σ_k {prev_plain}[k]*W{number}[j,k] + b{number}[j]"
        sum_tex = f"\\sum_k {prev_tex}_k W^{{({number})}}_{{j,k}} + b^{{({number})}}_j"
        block.formulas.append(
            Raw(
                f"z{number} = W{number} {prev_plain} + b{number},  a{number} = "
                f"{fn_plain}(z{number})",
                f"z^{{({number})}} = W^{{({number})}} {prev_tex} + b^{{({number})}}, \\quad "
                f"a^{{({number})}} = {_fn_tex(name)}(z^{{({number})}})",
            )
        )
        if name == "softmax":
            block.formulas.append(
                Raw(
                    f"z{number}[j] = {sum_plain},  a{number}[j] = exp(z{number}[j]) / "
                    f"Σ_k exp(z{number}[k])",
                    f"z^{{({number})}}_j = {sum_tex}, \\quad a^{{({number})}}_j = "
                    f"\\frac{{e^{{z^{{({number})}}_j}}}}{{\\sum_k e^{{z^{{({number})}}_k}}}}",
                )
            )
        elif name == "identity":
            block.formulas.append(
                Raw(f"a{number}[j] = z{number}[j] = {sum_plain}", f"a^{{({number})}}_j = {sum_tex}")
            )
        else:
            block.formulas.append(
                Raw(
                    f"a{number}[j] = {fn_plain}({sum_plain})",
                    f"a^{{({number})}}_j = {_fn_tex(name)}\\left({sum_tex}\\right)",
                )
            )
            block.notes.append(("where ", _activation_lines(spec, number, 0)))
        Wl, bl = W[number - 1], b[number - 1]
        for j in range(len(z)):
            pre = _pre_activation(a_prev, Wl, bl, j)
            if name == "identity":
                block.equations.append(Equation(sym_a(number, j + 1), [pre], a[j]))
            elif name == "softmax":
                block.equations.append(Equation(sym_z(number, j + 1), [pre], z[j]))
            else:
                block.equations.append(
                    Equation(sym_a(number, j + 1), [Call(name, pre), Call(name, Num(z[j]))], a[j])
                )
        if name == "softmax":
            total = float(np.sum(np.exp(z)))
            for j in range(len(z)):
                block.equations.append(
                    Equation(
                        sym_a(number, j + 1),
                        [
                            Div(
                                Call("exp", sym_z(number, j + 1)),
                                Add(*[Call("exp", sym_z(number, k + 1)) for k in range(len(z))]),
                            ),
                            Div(
                                Call("exp", Num(z[j])),
                                Add(*[Call("exp", Num(zk)) for zk in z]),
                            ),
                            Div(Num(np.exp(z[j])), Num(total)),
                        ],
                        a[j],
                    )
                )
        blocks.append(block)
    return blocks


def _fn_text(name: str) -> str:
    return FUNCTIONS[name][0]


def _fn_tex(name: str) -> str:
    return FUNCTIONS[name][1]


# -- loss ------------------------------------------------------------------------------------
def loss_convention(spec: ExplainSpec) -> tuple[str, Raw]:
    """A sentence naming the convention, and the per-example formula."""
    k, L = spec.widths[-1], spec.n_layers
    aL = f"a{L}"
    aLt = f"a^{{({L})}}"
    scale_plain = "" if k == 1 else f"(1/{k}) "
    scale_tex = "" if k == 1 else f"\\frac{{1}}{{{k}}}"
    if spec.loss.name == "mse":
        reduction = spec.loss.reduction
        sentence = {
            "mean": f"mean squared error, averaged over the {k} output{'s' * (k != 1)} "
            "(reduction: mean)",
            "sum": "squared error summed over the outputs (reduction: sum)",
            "half_sum": "one half of the squared error summed over the outputs "
            "(reduction: half_sum, so that dL/da = a - y)",
        }[reduction]
        factor_plain = {"mean": scale_plain, "sum": "", "half_sum": "(1/2) "}[reduction]
        factor_tex = {"mean": scale_tex, "sum": "", "half_sum": "\\frac{1}{2}"}[reduction]
        formula = Raw(
            f"L = {factor_plain}Σ_j ({aL}[j] - y[j])^2",
            f"L = {factor_tex}\\sum_j \\left({aLt}_j - y_j\\right)^2",
        )
    elif spec.loss.name == "binary_crossentropy":
        sentence = (
            f"binary cross-entropy, averaged over the {k} output{'s' * (k != 1)}"
            if k > 1
            else "binary cross-entropy"
        )
        formula = Raw(
            f"L = -{scale_plain}Σ_j [y[j]*log({aL}[j]) + (1 - y[j])*log(1 - {aL}[j])]",
            f"L = -{scale_tex}\\sum_j \\left[y_j \\log {aLt}_j + (1 - y_j)\\log(1 - {aLt}_j)"
            "\\right]",
        )
    else:
        sentence = "categorical cross-entropy, summed over the classes"
        formula = Raw(f"L = -Σ_j y[j]*log({aL}[j])", f"L = -\\sum_j y_j \\log {aLt}_j")
    if spec.n_examples > 1:
        sentence += f"; the batch loss is the mean over the {spec.n_examples} examples"
    return sentence, formula


def _loss_equation(spec: ExplainSpec, example: ExampleState, lhs: Expr) -> Equation:
    L, k = spec.n_layers, spec.widths[-1]
    aL, y = example.a[-1], example.y
    name = spec.loss.name
    symbolic: list[Expr] = []
    numeric: list[Expr] = []
    for j in range(k):
        a_s, y_s = sym_a(L, j + 1), sym_y(j + 1)
        a_n, y_n = Num(aL[j]), Num(y[j])
        if name == "mse":
            symbolic.append(Pow(Sub(a_s, y_s), Int(2)))
            numeric.append(Pow(Sub(a_n, y_n), Int(2)))
        elif name == "binary_crossentropy":
            symbolic.append(
                Add(
                    Mul(y_s, Call("log", a_s)),
                    Mul(Sub(Int(1), y_s), Call("log", Sub(Int(1), a_s))),
                )
            )
            numeric.append(
                Add(
                    Mul(y_n, Call("log", a_n)),
                    Mul(Sub(Int(1), y_n), Call("log", Sub(Int(1), a_n))),
                )
            )
        else:
            symbolic.append(Mul(y_s, Call("log", a_s)))
            numeric.append(Mul(y_n, Call("log", a_n)))

    def wrap(terms: list[Expr]) -> Expr:
        total = Add(*terms)
        if name == "mse":
            factor = {"mean": Frac(1, k) if k > 1 else None, "sum": None}.get(
                spec.loss.reduction, Frac(1, 2)
            )
            return Mul(factor, total) if factor is not None else total
        if name == "binary_crossentropy" and k > 1:
            return Neg(Mul(Frac(1, k), total))
        return Neg(total)

    return Equation(lhs, [wrap(symbolic), wrap(numeric)], example.loss)


# -- backward --------------------------------------------------------------------------------
def _local_derivatives(layer: Activation, n: int) -> np.ndarray:
    """f'(z) from the engine's backward (a vector), or the softmax Jacobian J[i, j]."""
    if layer.type_name == "softmax":
        # backward(e_i) returns row i of the Jacobian: Σ_j e_i[j] J[j, k] = J[i, k].
        return np.array([layer.backward(np.eye(n)[i][None, :])[0] for i in range(n)])
    return layer.backward(np.ones((1, n)))[0].copy()


def _example(
    spec: ExplainSpec, W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, y: np.ndarray
) -> ExampleState:
    zs, activations, layers = _forward(spec, W, b, x)
    loss = get_loss(spec.loss.engine_config())
    L = spec.n_layers
    fused = loss.fused_with(layers[-1]) if spec.fuse else None
    if fused is not None:
        value = fused.value(zs[-1][None, :], y[None, :])
    else:
        value = loss.value(activations[-1][None, :], y[None, :])
    dL_da: list[np.ndarray | None] = [None] * L
    local: list[np.ndarray | None] = [None] * L
    delta: list[np.ndarray] = [np.empty(0)] * L
    for number in range(L, 0, -1):
        i = number - 1
        if number == L and fused is not None:
            delta[i] = fused.gradient(zs[i][None, :], y[None, :])[0]
            continue
        if number == L:
            dL_da[i] = loss.gradient(activations[i][None, :], y[None, :])[0]
        else:
            dL_da[i] = W[number].T @ delta[number]
        local[i] = _local_derivatives(layers[i], len(zs[i]))
        if local[i].ndim == 2:
            delta[i] = local[i].T @ dL_da[i]  # δ[j] = Σ_i dL/da[i] J[i, j]
        else:
            delta[i] = dL_da[i] * local[i]
    return ExampleState(x, y, zs, activations, float(value), dL_da, local, delta)


def _output_dL_da_equation(spec: ExplainSpec, example: ExampleState, j: int) -> Equation:
    L, k = spec.n_layers, spec.widths[-1]
    a_s, y_s = sym_a(L, j + 1), sym_y(j + 1)
    a_n, y_n = Num(example.a[-1][j]), Num(example.y[j])
    name = spec.loss.name
    forms: list[Expr]
    if name == "mse":
        factor = {
            "mean": Frac(2, k) if k > 1 else Int(2),
            "sum": Int(2),
            "half_sum": None,
        }[spec.loss.reduction]
        forms = [Sub(a_s, y_s), Sub(a_n, y_n)]
        if factor is not None:
            forms = [Mul(factor, form) for form in forms]
    elif name == "binary_crossentropy":

        def bce(a: Expr, y: Expr) -> Expr:
            den: Expr = Mul(a, Sub(Int(1), a))
            if k > 1:
                den = Mul(Int(k), a, Sub(Int(1), a))
            return Div(Sub(a, y), den)

        forms = [bce(a_s, y_s), bce(a_n, y_n)]
    else:
        forms = [Neg(Div(y_s, a_s)), Neg(Div(y_n, a_n))]
    return Equation(Deriv(LOSS, a_s), forms, example.dL_da[-1][j])


def _local_equation(spec: ExplainSpec, number: int, example: ExampleState, j: int) -> Equation:
    layer_spec = spec.layers[number - 1]
    name = layer_spec.activation_name
    a_s, z_s = sym_a(number, j + 1), sym_z(number, j + 1)
    a_n, z_n = Num(example.a[number - 1][j]), Num(example.z[number - 1][j])
    value = example.local[number - 1][j]
    lhs = Call(name, z_s, prime=True)
    if name == "identity":
        return Equation(lhs, [], value)
    if name == "relu":
        return Equation(lhs, [Cases(Int(1), z_s, Int(0)), Cases(Int(1), z_n, Int(0))], value)
    if name == "leaky_relu":
        slope = Num(layer_spec.make_activation().slope)
        return Equation(lhs, [Cases(Int(1), z_s, slope), Cases(Int(1), z_n, slope)], value)
    if name == "sigmoid":
        return Equation(lhs, [Mul(a_s, Sub(Int(1), a_s)), Mul(a_n, Sub(Int(1), a_n))], value)
    if name == "tanh":
        return Equation(lhs, [Sub(Int(1), Pow(a_s, Int(2))), Sub(Int(1), Pow(a_n, Int(2)))], value)
    # improved sigmoid: (2/3)(A - a²/A), A = 1.7159
    A = Raw("1.7159", "1.7159")

    def isig(a: Expr) -> Expr:
        return Mul(Frac(2, 3), Sub(A, Div(Pow(a, Int(2)), A)))

    return Equation(lhs, [isig(a_s), isig(a_n)], value)


def _jacobian_equation(number: int, example: ExampleState, i: int, j: int) -> Equation:
    a_i, a_j = sym_a(number, i + 1), sym_a(number, j + 1)
    n_i, n_j = Num(example.a[number - 1][i]), Num(example.a[number - 1][j])
    lhs = Deriv(a_i, sym_z(number, j + 1))
    value = example.local[number - 1][i, j]
    if i == j:
        return Equation(lhs, [Mul(a_i, Sub(Int(1), a_i)), Mul(n_i, Sub(Int(1), n_i))], value)
    return Equation(lhs, [Neg(Mul(a_i, a_j)), Neg(Mul(n_i, n_j))], value)


def _backward_blocks(spec: ExplainSpec, W: list[np.ndarray], example: ExampleState) -> list[Block]:
    L, k = spec.n_layers, spec.widths[-1]
    blocks = []
    for number in range(L, 0, -1):
        i = number - 1
        name = spec.layers[i].activation_name
        fn = _fn_text(name)
        where = "output layer" if number == L else "hidden layer"
        block = Block(f"Layer {number} ({where}, {fn})")
        width = spec.widths[number]
        if number == L and spec.fused:
            pair = "sigmoid + binary" if name == "sigmoid" else "softmax + categorical"
            scale_plain = f" / {k}" if name == "sigmoid" and k > 1 else ""
            scale_tex = f"\\frac{{1}}{{{k}}}" if name == "sigmoid" and k > 1 else ""
            block.formulas.append(
                Raw(
                    f"δ{number} = dL/dz{number} = "
                    + (f"(a{number} - y){scale_plain}" if scale_plain else f"a{number} - y"),
                    f"\\delta^{{({number})}} = \\frac{{\\partial L}}{{\\partial z^{{({number})}}}}"
                    f" = {scale_tex}\\left(a^{{({number})}} - y\\right)",
                )
            )
            why = (
                "dL/da = (a - y)/(a(1 - a)) times sigmoid' = a(1 - a)"
                if name == "sigmoid"
                else "the softmax Jacobian diag(a) - a a^T times dL/da = -y/a, with sum(y) = 1"
            )
            block.notes.append(
                (
                    f"{pair} cross-entropy, fused as the engine does: dL/dz is shown directly "
                    f"({why} simplify to a - y). Set fuse: false in the spec to see dL/da and "
                    "the activation's derivative separately.",
                )
            )
            for j in range(width):
                a_s, y_s = sym_a(L, j + 1), sym_y(j + 1)
                a_n, y_n = Num(example.a[-1][j]), Num(example.y[j])
                forms: list[Expr] = [Sub(a_s, y_s), Sub(a_n, y_n)]
                if name == "sigmoid" and k > 1:
                    forms = [Div(form, Int(k)) for form in forms]
                block.equations.append(Equation(sym_delta(L, j + 1), forms, example.delta[i][j]))
            blocks.append(block)
            continue
        # dL/da
        if number == L:
            block.formulas.append(_dL_da_output_formula(spec))
            for j in range(width):
                block.equations.append(_output_dL_da_equation(spec, example, j))
        else:
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
                                    Mul(
                                        sym_W(number + 1, r + 1, j + 1),
                                        sym_delta(number + 1, r + 1),
                                    )
                                    for r in terms
                                ]
                            ),
                            Add(
                                *[
                                    Mul(Num(above[r, j]), Num(example.delta[number][r]))
                                    for r in terms
                                ]
                            ),
                        ],
                        example.dL_da[i][j],
                    )
                )
        # local derivatives and deltas
        if name == "softmax":
            block.formulas.append(_activation_lines(spec, number, 1))
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
                    block.equations.append(_jacobian_equation(number, example, r, j))
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
            block.formulas.append(_activation_lines(spec, number, 1))
            block.formulas.append(
                Raw(
                    f"δ{number}[j] = dL/da{number}[j]*{fn}'(z{number}[j])",
                    f"\\delta^{{({number})}}_j = \\frac{{\\partial L}}{{\\partial "
                    f"a^{{({number})}}_j}} \\, {_fn_tex(name)}'(z^{{({number})}}_j)",
                )
            )
            for j in range(width):
                block.equations.append(_local_equation(spec, number, example, j))
            for j in range(width):
                block.equations.append(
                    Equation(
                        sym_delta(number, j + 1),
                        [
                            Mul(
                                Deriv(LOSS, sym_a(number, j + 1)),
                                Call(name, sym_z(number, j + 1), prime=True),
                            ),
                            Mul(Num(example.dL_da[i][j]), Num(example.local[i][j])),
                        ],
                        example.delta[i][j],
                    )
                )
        blocks.append(block)
    return blocks


def _dL_da_output_formula(spec: ExplainSpec) -> Raw:
    L, k = spec.n_layers, spec.widths[-1]
    a, at = f"a{L}[j]", f"a^{{({L})}}_j"
    lhs, lhs_tex = f"dL/d{a}", f"\\frac{{\\partial L}}{{\\partial {at}}}"
    if spec.loss.name == "mse":
        plain = {"mean": f"({2}/{k})*" if k > 1 else "2*", "sum": "2*", "half_sum": ""}[
            spec.loss.reduction
        ]
        tex = {"mean": f"\\frac{{2}}{{{k}}}" if k > 1 else "2", "sum": "2", "half_sum": ""}[
            spec.loss.reduction
        ]
        if not plain:
            return Raw(f"{lhs} = {a} - y[j]", f"{lhs_tex} = {at} - y_j")
        return Raw(f"{lhs} = {plain}({a} - y[j])", f"{lhs_tex} = {tex}({at} - y_j)")
    if spec.loss.name == "binary_crossentropy":
        kp, kt = (f"{k}*", f"{k}\\,") if k > 1 else ("", "")
        return Raw(
            f"{lhs} = ({a} - y[j]) / ({kp}{a}*(1 - {a}))",
            f"{lhs_tex} = \\frac{{{at} - y_j}}{{{kt}{at}(1 - {at})}}",
        )
    return Raw(f"{lhs} = -y[j] / {a}", f"{lhs_tex} = -\\frac{{y_j}}{{{at}}}")


# -- gradients -------------------------------------------------------------------------------
def _gradient_blocks(
    spec: ExplainSpec, examples: list[ExampleState], dW: list[np.ndarray], db: list[np.ndarray]
) -> list[Block]:
    m = len(examples)
    blocks = []
    for number in range(spec.n_layers, 0, -1):
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
        blocks.append(block)
    return blocks


# -- updates ---------------------------------------------------------------------------------
class Updater:
    """The engine's optimizer over one flat float64 buffer of the trainable tensors."""

    def __init__(self, spec: ExplainSpec, W: list[np.ndarray], b: list[np.ndarray]) -> None:
        self.spec = spec
        self.optimizer = spec.optimizer.make()
        self.names = [name for name in spec.parameter_names() if spec.trainable(name)]
        tensors = {f"W{n}": W[n - 1] for n in range(1, spec.n_layers + 1)}
        tensors |= {f"b{n}": b[n - 1] for n in range(1, spec.n_layers + 1)}
        self.shapes = {name: tensors[name].shape for name in self.names}
        self.slices: dict[str, slice] = {}
        offset = 0
        for name in self.names:
            size = tensors[name].size
            self.slices[name] = slice(offset, offset + size)
            offset += size
        self.params = np.zeros(offset, dtype=np.float64)
        self.grads = np.zeros(offset, dtype=np.float64)
        for name in self.names:
            self.params[self.slices[name]] = tensors[name].reshape(-1)

    def state(self) -> dict[str, np.ndarray]:
        """Copies of the optimizer's per-parameter state (zeros before the first step)."""
        zeros = np.zeros_like(self.params)
        opt = self.optimizer
        if self.spec.optimizer.name == "momentum":
            return {"v": zeros if opt.velocity is None else opt.velocity.copy()}
        if self.spec.optimizer.name == "adam":
            return {
                "m": zeros if opt.m is None else opt.m.copy(),
                "v": zeros if opt.v is None else opt.v.copy(),
            }
        return {}

    def step(self, dW: list[np.ndarray], db: list[np.ndarray]) -> None:
        grads = {f"W{n}": dW[n - 1] for n in range(1, self.spec.n_layers + 1)}
        grads |= {f"b{n}": db[n - 1] for n in range(1, self.spec.n_layers + 1)}
        for name in self.names:
            self.grads[self.slices[name]] = grads[name].reshape(-1)
        if self.names:
            self.optimizer.step(self.params, self.grads)

    def tensor(self, name: str, buffer: np.ndarray | None = None) -> np.ndarray:
        buffer = self.params if buffer is None else buffer
        return buffer[self.slices[name]].reshape(self.shapes[name]).copy()


def _update_formulas(spec: ExplainSpec) -> list[Expr]:
    hp = spec.optimizer.hyperparameters
    name = spec.optimizer.name
    if name == "sgd":
        return [
            Raw(
                f"θ ← θ - η*dL/dθ,   η = {hp['learning_rate']:g}",
                f"\\theta \\leftarrow \\theta - \\eta \\frac{{\\partial L}}{{\\partial \\theta}}, "
                f"\\quad \\eta = {hp['learning_rate']:g}",
            )
        ]
    if name == "momentum":
        return [
            Raw(
                f"v(θ) ← μ*v(θ) + dL/dθ,  θ ← θ - η*v(θ),   η = {hp['learning_rate']:g}, "
                f"μ = {hp['momentum']:g}, v starts at 0 (PyTorch's form)",
                f"v \\leftarrow \\mu v + \\frac{{\\partial L}}{{\\partial \\theta}}, \\quad "
                f"\\theta \\leftarrow \\theta - \\eta v, \\quad \\eta = {hp['learning_rate']:g},"
                f" \\mu = {hp['momentum']:g}",
            )
        ]
    return [
        Raw(
            "m(θ) ← β1*m(θ) + (1 - β1)*g,  v(θ) ← β2*v(θ) + (1 - β2)*g^2,  g = dL/dθ",
            "m \\leftarrow \\beta_1 m + (1 - \\beta_1) g, \\quad v \\leftarrow \\beta_2 v + "
            "(1 - \\beta_2) g^2, \\quad g = \\frac{\\partial L}{\\partial \\theta}",
        ),
        Raw(
            "m_hat = m / (1 - β1^t),  v_hat = v / (1 - β2^t),  θ ← θ - η*m_hat / (sqrt(v_hat) + ε)",
            "\\hat m = \\frac{m}{1 - \\beta_1^t}, \\quad \\hat v = \\frac{v}{1 - \\beta_2^t}, "
            "\\quad \\theta \\leftarrow \\theta - \\eta \\frac{\\hat m}{\\sqrt{\\hat v} + "
            "\\varepsilon}",
        ),
        Raw(
            f"η = {hp['learning_rate']:g}, β1 = {hp['beta1']:g}, β2 = {hp['beta2']:g}, "
            f"ε = {hp['epsilon']:g}; m and v start at 0 (PyTorch's form)",
            f"\\eta = {hp['learning_rate']:g}, \\beta_1 = {hp['beta1']:g}, \\beta_2 = "
            f"{hp['beta2']:g}, \\varepsilon = {_tex_g(hp['epsilon'])}",
        ),
    ]


def _tex_g(value: float) -> str:
    return latex_number(value, 6)


def _update_blocks(
    spec: ExplainSpec,
    updater: Updater,
    before: dict[str, np.ndarray],
    after: dict[str, np.ndarray],
    old: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
) -> list[Block]:
    hp = spec.optimizer.hyperparameters
    name = spec.optimizer.name
    t = updater.optimizer.iterations
    eta, eta_n = Sym("η"), Num(hp["learning_rate"])
    blocks = []
    for tensor in updater.names:
        block = Block(f"{tensor}")
        new = updater.tensor(tensor)
        state_before = {key: updater.tensor(tensor, value) for key, value in before.items()}
        state_after = {key: updater.tensor(tensor, value) for key, value in after.items()}
        layer = int(tensor[1:])
        for index in np.ndindex(new.shape):
            entry = tuple(i + 1 for i in index)
            theta = Sym(tensor[0], layer, entry)
            g_s, g_n = Deriv(LOSS, theta), Num(grads[tensor][index])
            old_n = Num(old[tensor][index])
            if name == "sgd":
                block.equations.append(
                    Equation(
                        theta,
                        [Sub(theta, Mul(eta, g_s)), Sub(old_n, Mul(eta_n, g_n))],
                        new[index],
                        "<-",
                        reference=old_n.value,
                    )
                )
            elif name == "momentum":
                v_s = State("v", theta)
                mu, mu_n = Sym("μ"), Num(hp["momentum"])
                v_new = state_after["v"][index]
                block.equations.append(
                    Equation(
                        v_s,
                        [
                            Add(Mul(mu, v_s), g_s),
                            Add(Mul(mu_n, Num(state_before["v"][index])), g_n),
                        ],
                        v_new,
                        "<-",
                    )
                )
                block.equations.append(
                    Equation(
                        theta,
                        [Sub(theta, Mul(eta, v_s)), Sub(old_n, Mul(eta_n, Num(v_new)))],
                        new[index],
                        "<-",
                        reference=old_n.value,
                    )
                )
            else:
                block.equations.extend(
                    _adam_equations(
                        theta, g_s, g_n, old_n, state_before, state_after, index, new[index], hp, t
                    )
                )
        blocks.append(block)
    return blocks


def _adam_equations(theta, g_s, g_n, old_n, before, after, index, new, hp, t) -> list[Equation]:
    b1, b2 = Sym("β1"), Sym("β2")
    b1_n, b2_n = Num(hp["beta1"]), Num(hp["beta2"])
    eta, eta_n, eps, eps_n = Sym("η"), Num(hp["learning_rate"]), Sym("ε"), Num(hp["epsilon"])
    m_s, v_s = State("m", theta), State("v", theta)
    mh_s, vh_s = State("m", theta, hat=True), State("v", theta, hat=True)
    m_new, v_new = after["m"][index], after["v"][index]
    m_hat = m_new / (1 - hp["beta1"] ** t)
    v_hat = v_new / (1 - hp["beta2"] ** t)
    t_i = Int(t)
    return [
        Equation(
            m_s,
            [
                Add(Mul(b1, m_s), Mul(Sub(Int(1), b1), g_s)),
                Add(Mul(b1_n, Num(before["m"][index])), Mul(Sub(Int(1), b1_n), g_n)),
            ],
            m_new,
            "<-",
        ),
        Equation(
            v_s,
            [
                Add(Mul(b2, v_s), Mul(Sub(Int(1), b2), Pow(g_s, Int(2)))),
                Add(Mul(b2_n, Num(before["v"][index])), Mul(Sub(Int(1), b2_n), Pow(g_n, Int(2)))),
            ],
            v_new,
            "<-",
        ),
        Equation(
            mh_s,
            [Div(m_s, Sub(Int(1), Pow(b1, t_i))), Div(Num(m_new), Sub(Int(1), Pow(b1_n, t_i)))],
            m_hat,
        ),
        Equation(
            vh_s,
            [Div(v_s, Sub(Int(1), Pow(b2, t_i))), Div(Num(v_new), Sub(Int(1), Pow(b2_n, t_i)))],
            v_hat,
        ),
        Equation(
            theta,
            [
                Sub(theta, Mul(eta, Div(mh_s, Add(Call("sqrt", vh_s), eps)))),
                Sub(old_n, Mul(eta_n, Div(Num(m_hat), Add(Call("sqrt", Num(v_hat)), eps_n)))),
            ],
            new,
            "<-",
            reference=old_n.value,
        ),
    ]


def parameter_matrices(
    spec: ExplainSpec,
    W: list[np.ndarray],
    b: list[np.ndarray],
    W_before: list[np.ndarray] | None = None,
    b_before: list[np.ndarray] | None = None,
) -> list[list[tuple]]:
    """[(W1, b1), (W2, b2), ...], each pair printed side by side; with the values before an
    update, each number is printed with enough digits to show its change."""
    groups = []
    for n in range(1, spec.n_layers + 1):
        W_ref = None if W_before is None else W_before[n - 1]
        b_ref = None if b_before is None else b_before[n - 1]
        groups.append(
            [
                (Raw(f"W{n}", f"W^{{({n})}}"), W[n - 1], W_ref),
                (Raw(f"b{n}", f"b^{{({n})}}"), b[n - 1], b_ref),
            ]
        )
    return groups


# -- verification ----------------------------------------------------------------------------
def verify(
    spec: ExplainSpec,
    W: list[np.ndarray],
    b: list[np.ndarray],
    loss: float,
    dW: list[np.ndarray],
    db: list[np.ndarray],
) -> Verification:
    """Compare with the engine's backward (float64 Sequential, W transposed) and with finite
    differences of the engine's loss."""
    model = spec.to_model(W, b)
    x, y = spec.x(), spec.y()
    output = model.forward(x, training=True)
    engine_loss = model.compute_loss(output, y).total
    model.backward(y)
    ours = {}
    for n in range(1, spec.n_layers + 1):
        ours[f"dense_{n}.W"] = dW[n - 1].T  # the engine stores W transposed
        ours[f"dense_{n}.b"] = db[n - 1]
    engine_difference = max(float(np.max(np.abs(model.grads[k] - v))) for k, v in ours.items())
    engine_passed = all(
        np.allclose(model.grads[k], v, rtol=ENGINE_RTOL, atol=ENGINE_ATOL) for k, v in ours.items()
    ) and np.isclose(engine_loss, loss, rtol=ENGINE_RTOL, atol=ENGINE_ATOL)

    def engine_loss_now() -> float:
        return model.compute_loss(model.forward(x), y).total

    fd_difference, fd_relative, fd_passed = 0.0, 0.0, True
    for key, analytic in ours.items():
        numeric = numerical_gradient(engine_loss_now, model.params[key], FD_STEP)
        fd_difference = max(fd_difference, float(np.max(np.abs(analytic - numeric))))
        fd_relative = max(fd_relative, relative_error(analytic, numeric))
        fd_passed &= bool(np.allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL))
    return Verification(
        engine_difference,
        abs(engine_loss - loss),
        fd_difference,
        fd_relative,
        bool(engine_passed),
        fd_passed,
    )


def _verification_block(result: Verification) -> Block:
    block = Block("Gradients of this step")
    verdict = {True: "agree", False: "DISAGREE"}
    block.notes.append(
        (
            f"Engine: a float64 chainrule.nn.model.Sequential with Dense layers holding W^T "
            f"(forward(training=True), backward) gives gradients that {verdict[result.engine_passed]}"
            f" with the ones above: max |difference| = {result.engine_max_difference:.1e}, "
            f"loss difference {result.engine_loss_difference:.1e} "
            f"(tolerance {ENGINE_ATOL:.0e} + {ENGINE_RTOL:.0e}*|value|).",
        )
    )
    block.notes.append(
        (
            f"Finite differences: central differences (h = {FD_STEP:.0e}) of the engine's loss, "
            f"chainrule.nn.gradcheck.numerical_gradient, {verdict[result.fd_passed]}: "
            f"max |difference| = {result.fd_max_difference:.1e}, max relative error "
            f"{result.fd_max_relative_error:.1e} (tolerance {FD_ATOL:.0e} + "
            f"{FD_RTOL:.0e}*|numeric|).",
        )
    )
    return block


# -- putting it together ---------------------------------------------------------------------
def compute(spec: ExplainSpec, paths: list[str] | None = None, source: str = "") -> WorkedExample:
    """Run ``spec.steps`` steps and record every number; ``paths`` as in ``--paths W1[1,1]``."""
    from chainrule.explain.paths import enumerate_paths, parse_parameter, paths_section

    targets = [parse_parameter(text, spec) for text in (paths or [])]
    W, b = spec.weights(), spec.biases()
    updater = Updater(spec, W, b)
    x, y = spec.x(), spec.y()
    steps = []
    for number in range(1, spec.steps + 1):
        examples = [_example(spec, W, b, x[i], y[i]) for i in range(spec.n_examples)]
        loss = float(np.mean([e.loss for e in examples]))
        dW = [
            np.mean([np.outer(e.delta[i], e.activation_input(i + 1)) for e in examples], axis=0)
            for i in range(spec.n_layers)
        ]
        db = [np.mean([e.delta[i] for e in examples], axis=0) for i in range(spec.n_layers)]
        sections = _step_sections(spec, W, b, examples, loss, dW, db)
        before = updater.state()
        updater.step(dW, db)
        after = updater.state()
        old = {f"W{n}": W[n - 1] for n in range(1, spec.n_layers + 1)}
        old |= {f"b{n}": b[n - 1] for n in range(1, spec.n_layers + 1)}
        grads = {f"W{n}": dW[n - 1] for n in range(1, spec.n_layers + 1)}
        grads |= {f"b{n}": db[n - 1] for n in range(1, spec.n_layers + 1)}
        W_new = [
            updater.tensor(f"W{n}") if f"W{n}" in updater.slices else W[n - 1].copy()
            for n in range(1, spec.n_layers + 1)
        ]
        b_new = [
            updater.tensor(f"b{n}") if f"b{n}" in updater.slices else b[n - 1].copy()
            for n in range(1, spec.n_layers + 1)
        ]
        update = Section("Update", [])
        update.blocks.append(Block("Rule", formulas=_update_formulas(spec)))
        frozen = [name for name in spec.parameter_names() if not spec.trainable(name)]
        if frozen:
            update.blocks[0].notes.append((f"Frozen (not updated): {', '.join(frozen)}.",))
        update.blocks += _update_blocks(spec, updater, before, after, old, grads)
        update.blocks.append(
            Block(
                f"Parameters after step {number}",
                matrices=parameter_matrices(spec, W_new, b_new, W, b),
            )
        )
        verification = verify(spec, W, b, loss, dW, db)
        record = StepRecord(
            number, W, b, examples, loss, dW, db, W_new, b_new, sections, verification
        )
        if number == 1 and targets:
            record.paths = [enumerate_paths(spec, record, target) for target in targets]
            sections.append(paths_section(spec, record.paths))
        sections.append(update)
        sections.append(Section("Verification", [_verification_block(verification)]))
        steps.append(record)
        W, b = W_new, b_new
    final = [_example(spec, W, b, x[i], y[i]) for i in range(spec.n_examples)]
    final_loss = float(np.mean([e.loss for e in final]))
    summary = Section("Summary", [_summary_block(spec, steps, final_loss)])
    return WorkedExample(spec, source, _overview(spec), steps, final_loss, W, b, summary)


def _summary_block(spec: ExplainSpec, steps: list[StepRecord], final_loss: float) -> Block:
    block = Block("Loss")
    count = len(steps)
    block.notes.append(
        (
            "Before step 1: L = ",
            Num(steps[0].loss),
            f". After step {count}" if count > 1 else ". After the step",
            " (a forward pass with the updated parameters): L = ",
            Num(final_loss),
            f" (change {final_loss - steps[0].loss:+.2e}).",
        )
    )
    verified = all(step.verification.passed for step in steps)
    agreed = all(p.agrees for step in steps for p in step.paths)
    block.notes.append(
        (
            "Every gradient agrees with the engine's backward pass and with finite differences"
            if verified
            else "SOME GRADIENTS DISAGREE with the engine or with finite differences: see the "
            "Verification sections",
            "" if agreed else "; SOME PATH SUMS DISAGREE with the gradients",
            ".",
        )
    )
    return block


def _step_sections(
    spec: ExplainSpec,
    W: list[np.ndarray],
    b: list[np.ndarray],
    examples: list[ExampleState],
    loss: float,
    dW: list[np.ndarray],
    db: list[np.ndarray],
) -> list[Section]:
    m = len(examples)
    forward = Section("Forward pass")
    backward = Section("Backward pass")
    loss_section = Section("Loss")
    sentence, formula = loss_convention(spec)
    convention = Block("Convention", formulas=[formula], notes=[(sentence + ".",)])
    loss_section.blocks.append(convention)
    for index, example in enumerate(examples, start=1):
        label = f"example {index} of {m}: " if m > 1 else ""
        blocks = _forward_blocks(spec, W, b, example)
        back = _backward_blocks(spec, W, example)
        if m > 1:
            for block in blocks + back:
                block.title = label + block.title
        forward.blocks += blocks
        backward.blocks += back
        lhs = Sym("L", None, (index,)) if m > 1 else LOSS
        loss_block = Block(f"Example {index}" if m > 1 else "Value")
        loss_block.equations.append(_loss_equation(spec, example, lhs))
        loss_section.blocks.append(loss_block)
    if m > 1:
        loss_section.blocks.append(
            Block(
                "Batch",
                equations=[
                    Equation(
                        LOSS,
                        [
                            Mul(Frac(1, m), Add(*[Sym("L", None, (i,)) for i in range(1, m + 1)])),
                            Mul(Frac(1, m), Add(*[Num(e.loss) for e in examples])),
                        ],
                        loss,
                    )
                ],
            )
        )
    gradients = Section("Gradients", _gradient_blocks(spec, examples, dW, db))
    return [forward, loss_section, backward, gradients]


def _overview(spec: ExplainSpec) -> Section:
    widths = spec.widths
    names = [layer.activation_name for layer in spec.layers]
    shape = " -> ".join(
        [f"{widths[0]} inputs"]
        + [f"{w} ({_fn_text(n)})" for w, n in zip(widths[1:], names, strict=True)]
    )
    network = Block("Architecture")
    network.notes.append((f"Layers: {shape}.",))
    network.notes.append(
        (
            "Layout: textbook. W_l has one row per output neuron, W_l[j,k] connects input k "
            "to neuron j, and z_l = W_l a_(l-1) + b_l (a_0 = x). The engine "
            "(chainrule.nn.layers.Dense) stores the transpose, shape (n_in, n_out), and computes "
            "z = x @ W + b on rows.",
        )
    )
    sentence, formula = loss_convention(spec)
    network.notes.append(
        (
            "Loss: ",
            formula,
            f", {sentence}.",
        )
    )
    hp = spec.optimizer.hyperparameters
    optimizer = {"sgd": "gradient descent", "momentum": "momentum", "adam": "Adam"}[
        spec.optimizer.name
    ]
    settings = ", ".join(f"{key} {value:g}" for key, value in hp.items())
    frozen = [name for name in spec.parameter_names() if not spec.trainable(name)]
    frozen_text = f"; frozen: {', '.join(frozen)}" if frozen else ""
    network.notes.append(
        (
            f"Optimizer: {optimizer} ({settings}); {spec.steps} step"
            f"{'s' * (spec.steps != 1)}{frozen_text}.",
        )
    )
    if spec.n_examples > 1:
        network.notes.append(
            (f"Batch of {spec.n_examples} examples: the loss and the gradients are means.",)
        )
    x, y = spec.x(), spec.y()
    vectors = Block("Data")
    for i in range(spec.n_examples):
        suffix = f" (example {i + 1})" if spec.n_examples > 1 else ""
        vectors.matrices.append(
            [(Raw(f"x{suffix}", f"x{suffix}"), x[i]), (Raw(f"y{suffix}", f"y{suffix}"), y[i])]
        )
    params = Block(
        "Initial parameters (textbook layout: one row per output neuron)",
        matrices=parameter_matrices(spec, spec.weights(), spec.biases()),
    )
    return Section("Network", [network, vectors, params])
