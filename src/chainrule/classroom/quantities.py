"""One gradient step as a chain of named quantities, each computable from the ones before it.

The names are those ``chainrule explain`` prints (textbook layout, 1-based)::

    z1[1], a1[1], ...          forward:   z_l = W_l a_{l-1} + b_l,  a_l = f_l(z_l)
    L                          the loss of the output a_L
    dL/da3[1]                  the loss's gradient (not when the output is fused with the loss)
    sigmoid'(z3[1])            f_l'(z_l[j]) (row-wise f: da3[1]/dz3[2])
    δ3[1]                      δ_l = dL/da_l ⊙ f_l'(z_l);  dL/da_l = W_{l+1}ᵀ δ_{l+1}
    dL/dW3[1,2], dL/db3[1]     δ_l[j] a_{l-1}[k] and δ_l[j]
    v(W1[1,1]), W1[1,1]        each rule of the update, then the new parameter

Each :class:`Quantity` knows its direct inputs and computes its value from them with the
components' own math: activations and losses through the engine's layers and loss classes (as
``explain.numbers`` does), local derivatives, fused deltas and update rules through their math
descriptions run on numbers (``explain.symbolic.Term``), as ``explain`` prints them. So
:meth:`Chain.evaluate` can start from a student's own earlier numbers (error carried forward),
and with no overrides it gives explain's own values (a test holds the two together).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from chainrule.explain.loss import fused_loss
from chainrule.explain.spec import ExplainSpec
from chainrule.explain.symbolic import Term
from chainrule.explain.symbols import (
    LOSS,
    Applied,
    quantity,
    sym_a,
    sym_b,
    sym_delta,
    sym_W,
    sym_z,
)
from chainrule.nn.formulas import GRADIENT, PARAMETER, STEP
from chainrule.nn.losses import get_loss
from chainrule.reporting.expr import Deriv, Expr, Style, Sym

_STYLE = Style()


@dataclass
class Parameters:
    """The step's W_l and b_l (textbook layout), lists indexed by layer - 1."""

    W: list[np.ndarray]
    b: list[np.ndarray]


Compute = Callable[[Mapping[str, float], Parameters], float]


@dataclass
class Quantity:
    """One printed number: its name, what kind of step it is, and how it is computed.

    ``kind`` is one of ``z a L dL/da f' J δ dL/dW dL/db state θ``; ``layer`` and ``index``
    are textbook (1-based); ``inputs`` are the names ``compute`` reads.
    """

    name: str
    kind: str
    layer: int
    index: tuple[int, ...]
    inputs: tuple[str, ...]
    compute: Compute
    symbol: Expr
    #: Only a shown quantity may be answered (an optimizer rule may overwrite a target).
    gradable: bool = True
    #: Extra facts a diagnosis needs (the old parameter, the activation's math …).
    facts: dict = field(default_factory=dict)

    @property
    def backward(self) -> bool:
        """Whether it belongs to the backward pass (it reads W_{l+1} after the forward pass)."""
        return self.kind in ("dL/da", "f'", "J", "δ", "dL/dx", "dL/dW", "dL/db")


def name_of(expr: Expr) -> str:
    return expr.text(_STYLE)


def _value(term: object) -> float:
    """A formula's number: a Term's value, or a constant the formula returned as is."""
    return float(term.value if isinstance(term, Term) else term)  # type: ignore[attr-defined]


class Chain:
    """The quantities of step 1 of ``spec`` (one example) in the order explain prints them."""

    def __init__(self, spec: ExplainSpec) -> None:
        if spec.n_examples != 1:
            raise ValueError(
                f"check grades a spec with one example; this spec has {spec.n_examples} "
                "(give one input and one target)"
            )
        self.spec = spec
        self.parameters = Parameters(spec.weights(), spec.biases())
        self.x, self.y = spec.x()[0], spec.y()[0]
        self.quantities: list[Quantity] = []
        self._forward()
        self._loss()
        self._backward()
        self._gradients()
        self._update()
        self.by_name = {q.name: q for q in self.quantities if q.gradable}

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(
        self,
        overrides: Mapping[str, float] | None = None,
        *,
        backward_parameters: Parameters | None = None,
        until: str | None = None,
    ) -> tuple[dict[str, float], dict[str, float]]:
        """(computed, used): each quantity computed from the values used before it, where a
        quantity in ``overrides`` (a student's number) is used instead of its computed value.
        ``backward_parameters`` replace W and b in the backward pass only (a diagnosis);
        ``until`` stops after that quantity."""
        overrides = overrides or {}
        computed: dict[str, float] = {}
        used: dict[str, float] = {}
        for q in self.quantities:
            parameters = self.parameters
            if backward_parameters is not None and q.backward:
                parameters = backward_parameters
            value = q.compute(used, parameters)
            computed[q.name] = value
            used[q.name] = overrides.get(q.name, value) if q.gradable else value
            if q.name == until:
                break
        return computed, used

    def ancestors(self, name: str) -> set[str]:
        """Every quantity ``name`` is computed from, directly or through others."""
        found: set[str] = set()
        todo = list(self.by_name[name].inputs)
        while todo:
            current = todo.pop()
            if current not in found:
                found.add(current)
                if current in self.by_name:
                    todo.extend(self.by_name[current].inputs)
        return found

    # -- building -----------------------------------------------------------------------------
    def _add(
        self, symbol: Expr, kind: str, layer: int, index: tuple[int, ...], inputs, compute, **facts
    ) -> Quantity:
        q = Quantity(name_of(symbol), kind, layer, index, tuple(inputs), compute, symbol)
        q.facts.update(facts)
        self.quantities.append(q)
        return q

    def _forward(self) -> None:
        widths = self.spec.widths
        for layer in range(1, self.spec.n_layers + 1):
            previous = [name_of(sym_a(layer - 1, k + 1)) for k in range(widths[layer - 1])]
            inputs = previous if layer > 1 else []
            for j in range(widths[layer]):
                self._add(
                    sym_z(layer, j + 1),
                    "z",
                    layer,
                    (j + 1,),
                    inputs,
                    self._pre_activation(layer, j, previous),
                )
            zs = [name_of(sym_z(layer, j + 1)) for j in range(widths[layer])]
            elementwise = self.spec.layers[layer - 1].math.elementwise
            for j in range(widths[layer]):
                self._add(
                    sym_a(layer, j + 1),
                    "a",
                    layer,
                    (j + 1,),
                    [zs[j]] if elementwise else zs,
                    self._activation(layer, j, zs),
                )

    def _pre_activation(self, layer: int, j: int, previous: list[str]) -> Compute:
        x = self.x

        def z(values: Mapping[str, float], p: Parameters) -> float:
            a_prev = x if layer == 1 else np.array([values[name] for name in previous])
            return float(p.W[layer - 1][j] @ a_prev + p.b[layer - 1][j])

        return z

    def activate(self, layer: int, z: np.ndarray) -> np.ndarray:
        """a = f_layer(z) through the engine's activation layer (one per layer, made once)."""
        activations = self.__dict__.setdefault("_activations", {})
        if layer not in activations:
            activations[layer] = self.spec.layers[layer - 1].make_activation()
        return activations[layer].forward(z[None, :], training=True)[0]

    def _activation(self, layer: int, j: int, zs: list[str]) -> Compute:
        elementwise = self.spec.layers[layer - 1].math.elementwise

        def a(values: Mapping[str, float], p: Parameters) -> float:
            if elementwise:
                return float(self.activate(layer, np.array([values[zs[j]]]))[0])
            return float(self.activate(layer, np.array([values[name] for name in zs]))[j])

        return a

    def _loss(self) -> None:
        L = self.spec.n_layers
        outputs = [name_of(sym_a(L, j + 1)) for j in range(self.spec.widths[L])]
        loss = get_loss(self.spec.loss.engine_config())
        y = self.y

        def value(values: Mapping[str, float], p: Parameters) -> float:
            a = np.array([values[name] for name in outputs])
            return float(loss.value(a[None, :], y[None, :]))

        self._add(LOSS, "L", L, (), outputs, value)

    def _backward(self) -> None:
        spec, widths, L = self.spec, self.spec.widths, self.spec.n_layers
        loss = get_loss(spec.loss.engine_config())
        y = self.y
        outputs = [name_of(sym_a(L, j + 1)) for j in range(widths[L])]
        for layer in range(L, 0, -1):
            width = widths[layer]
            a_names = [name_of(sym_a(layer, j + 1)) for j in range(width)]
            z_names = [name_of(sym_z(layer, j + 1)) for j in range(width)]
            if layer == L and spec.fused:
                fused = fused_loss(spec)
                for j in range(width):
                    self._add(
                        sym_delta(layer, j + 1),
                        "δ",
                        layer,
                        (j + 1,),
                        [outputs[j]],
                        self._fused_delta(fused, j, outputs[j], width),
                        fused=True,
                    )
                continue
            gradients = [name_of(Deriv(LOSS, sym_a(layer, j + 1))) for j in range(width)]
            for j in range(width):
                if layer == L:
                    compute = self._output_gradient(loss, y, outputs, j)
                    inputs = outputs
                else:
                    above = [name_of(sym_delta(layer + 1, r + 1)) for r in range(widths[layer + 1])]
                    compute = self._hidden_gradient(layer, j, above)
                    inputs = above
                self._add(
                    Deriv(LOSS, sym_a(layer, j + 1)), "dL/da", layer, (j + 1,), inputs, compute
                )
            math = spec.layers[layer - 1].math
            if math.elementwise:
                local = []
                for j in range(width):
                    symbol = Applied(math.symbol, sym_z(layer, j + 1), prime=True)
                    local.append(name_of(symbol))
                    self._add(
                        symbol,
                        "f'",
                        layer,
                        (j + 1,),
                        [z_names[j], a_names[j]],
                        self._local(math, z_names[j], a_names[j]),
                        math=math,
                    )
                for j in range(width):
                    self._add(
                        sym_delta(layer, j + 1),
                        "δ",
                        layer,
                        (j + 1,),
                        [gradients[j], local[j]],
                        self._product(gradients[j], local[j]),
                        local=local[j],
                        gradient=gradients[j],
                    )
            else:
                jacobian = [[""] * width for _ in range(width)]
                for i in range(width):
                    for j in range(width):
                        symbol = Deriv(sym_a(layer, i + 1), sym_z(layer, j + 1))
                        jacobian[i][j] = name_of(symbol)
                        self._add(
                            symbol,
                            "J",
                            layer,
                            (i + 1, j + 1),
                            [a_names[i], a_names[j]],
                            self._jacobian(math, a_names[i], a_names[j], i == j),
                        )
                for j in range(width):
                    column = [jacobian[i][j] for i in range(width)]
                    self._add(
                        sym_delta(layer, j + 1),
                        "δ",
                        layer,
                        (j + 1,),
                        gradients + column,
                        self._row_delta(gradients, column),
                    )

    def _fused_delta(self, fused, j: int, output: str, k: int) -> Compute:
        y_j = float(self.y[j])

        def delta(values: Mapping[str, float], p: Parameters) -> float:
            return _value(fused.delta(Term.number(values[output]), Term.number(y_j), k))

        return delta

    def _output_gradient(self, loss, y: np.ndarray, outputs: list[str], j: int) -> Compute:
        def gradient(values: Mapping[str, float], p: Parameters) -> float:
            a = np.array([values[name] for name in outputs])
            return float(loss.gradient(a[None, :], y[None, :])[0][j])

        return gradient

    @staticmethod
    def _hidden_gradient(layer: int, j: int, above: list[str]) -> Compute:
        def gradient(values: Mapping[str, float], p: Parameters) -> float:
            delta = np.array([values[name] for name in above])
            return float(p.W[layer][:, j] @ delta)  # Σ_k W_{l+1}[k, j] δ_{l+1}[k]

        return gradient

    @staticmethod
    def _local(math, z: str, a: str) -> Compute:
        def local(values: Mapping[str, float], p: Parameters) -> float:
            return _value(math.derivative(Term.number(values[z]), Term.number(values[a])))

        return local

    @staticmethod
    def _jacobian(math, a_i: str, a_j: str, same: bool) -> Compute:
        def entry(values: Mapping[str, float], p: Parameters) -> float:
            return _value(
                math.rowwise.jacobian(Term.number(values[a_i]), Term.number(values[a_j]), same)
            )

        return entry

    @staticmethod
    def _product(left: str, right: str) -> Compute:
        def product(values: Mapping[str, float], p: Parameters) -> float:
            return values[left] * values[right]

        return product

    @staticmethod
    def _row_delta(gradients: list[str], column: list[str]) -> Compute:
        def delta(values: Mapping[str, float], p: Parameters) -> float:
            return float(sum(values[g] * values[c] for g, c in zip(gradients, column, strict=True)))

        return delta

    def _gradients(self) -> None:
        widths = self.spec.widths
        for layer in range(self.spec.n_layers, 0, -1):
            for j in range(widths[layer]):
                delta = name_of(sym_delta(layer, j + 1))
                for k in range(widths[layer - 1]):
                    previous = name_of(sym_a(layer - 1, k + 1))
                    inputs = [delta, previous] if layer > 1 else [delta]
                    self._add(
                        Deriv(LOSS, sym_W(layer, j + 1, k + 1)),
                        "dL/dW",
                        layer,
                        (j + 1, k + 1),
                        inputs,
                        self._weight_gradient(layer, delta, k),
                    )
            for j in range(widths[layer]):
                delta = name_of(sym_delta(layer, j + 1))
                self._add(
                    Deriv(LOSS, sym_b(layer, j + 1)),
                    "dL/db",
                    layer,
                    (j + 1,),
                    [delta],
                    self._copy(delta),
                )

    def _weight_gradient(self, layer: int, delta: str, k: int) -> Compute:
        x, previous = self.x, name_of(sym_a(layer - 1, k + 1))

        def gradient(values: Mapping[str, float], p: Parameters) -> float:
            a_prev = x[k] if layer == 1 else values[previous]
            return values[delta] * a_prev  # δ_l[j] a_{l-1}[k]

        return gradient

    @staticmethod
    def _copy(name: str) -> Compute:
        def same(values: Mapping[str, float], p: Parameters) -> float:
            return values[name]

        return same

    def _update(self) -> None:
        """Each rule of the optimizer's math, element by element, as ``explain.update`` prints
        them; every state is zero before the first step, and the step count t is 1."""
        spec = self.spec
        math = spec.optimizer.make().math
        hyperparameters = spec.optimizer.hyperparameters
        trained = [name for name in spec.parameter_names() if spec.trainable(name)]
        for tensor in trained:
            layer = int(tensor[1:])
            old = (self.parameters.W if tensor[0] == "W" else self.parameters.b)[layer - 1]
            for index in np.ndindex(old.shape):
                textbook = tuple(i + 1 for i in index)
                theta = Sym(tensor[0], layer, textbook)
                gradient = name_of(Deriv(LOSS, theta))
                targets: dict[str, str] = {}
                for position, rule in enumerate(math.rules):
                    symbol = quantity(rule.target, theta)
                    # a target written again by a later rule: only the last value is shown
                    shown = all(later.target != rule.target for later in math.rules[position + 1 :])
                    inputs = [gradient, *targets.values()]
                    compute = self._rule(
                        rule, hyperparameters, math, float(old[index]), gradient, dict(targets)
                    )
                    kind = "θ" if rule.target == PARAMETER else "state"
                    q = self._add(
                        symbol,
                        kind,
                        layer,
                        textbook,
                        inputs,
                        compute,
                        old=float(old[index]),
                        tensor=tensor,
                    )
                    if not shown:
                        q.gradable, q.name = False, f"{q.name}#{position}"
                    targets[rule.target] = q.name

    @staticmethod
    def _rule(rule, hyperparameters, math, old: float, gradient: str, targets: dict) -> Compute:
        def step(values: Mapping[str, float], p: Parameters) -> float:
            numbers: dict[str, object] = {
                PARAMETER: Term.number(old),
                GRADIENT: Term.number(values[gradient]),
                STEP: 1,
            }
            for name in math.symbols:
                numbers[name] = Term.number(hyperparameters[name])
            for name in math.state:
                numbers[name] = Term.number(0.0)  # the optimizer's state starts at zeros
            for target, name in targets.items():
                numbers[target] = Term.number(values[name])
            return _value(rule.evaluate(numbers))

        return step
