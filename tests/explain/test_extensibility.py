"""A new activation, or a new optimizer, is one class: its code and its ``math``.

Both are defined here, in the test, and registered the way chainrule registers its own. Nothing
in ``chainrule.explain`` knows them, yet ``derive`` writes their equations, the computation
graph labels their edges, and ``explain``'s worked example prints every number, which the
tests check against a plain-NumPy reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from worked_reference import (
    CLASSIC,
    assert_printed,
    initial_parameters,
    load_raw,
    printed_values,
    reference_step,
    shown,
)

from chainrule.explain import compute, parse_spec, render
from chainrule.explain.derivation import derive
from chainrule.explain.graph import graph_dot
from chainrule.nn.formulas import ActivationMath, Notation, OptimizerMath, UpdateRule, exp, log
from chainrule.nn.layers import ACTIVATIONS, LAYERS, Activation, Dense, Sigmoid
from chainrule.nn.model import Sequential
from chainrule.nn.optim import ETA, MU, OPTIMIZERS, Optimizer


class Softplus(Activation):
    """a = log(1 + e^z), computed as logaddexp(0, z);  f'(z) = σ(z) = 1 - e^(-a), from a."""

    type_name = "softplus"
    math = ActivationMath(
        name="softplus",
        symbol=Notation("softplus", r"\operatorname{softplus}"),
        function=lambda z: log(1 + exp(z)),
        derivative=lambda z, a: 1 - exp(-a),
        definition=Notation(
            "softplus(z) = log(1 + exp(z))", r"\operatorname{softplus}(z) = \log(1 + e^z)"
        ),
        derivative_definition=Notation(
            "softplus'(z) = 1 - exp(-a), from the output a",
            r"\operatorname{softplus}'(z) = 1 - e^{-a}",
        ),
        batch=r"\log(1 + e^{{{z}}})",
        batch_derivative=r"(1 - e^{{-{a}}})",
        derivative_rule=r"f'(z) = 1 - e^{-a}",
        derivative_note="from the output",
    )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        a = np.logaddexp(0, x)
        self._cache = a
        return a

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_forward_ran(self._cache)
        return dout * (1 - np.exp(-self._cache))


class AveragedMomentum(Optimizer):
    """Momentum as a running average of the gradients (PyTorch's SGD with dampening = μ):

    v ← μ v + (1 - μ) g
    θ ← θ - η v
    """

    type_name = "averaged_momentum"
    STATE = ("velocity",)
    math = OptimizerMath(
        name="momentum as a running average",
        short_name="averaged momentum",
        symbols={"learning_rate": ETA, "momentum": MU},
        rules=(
            UpdateRule(
                "v",
                lambda v, g, momentum: momentum * v + (1 - momentum) * g,
                r"\mu v + (1 - \mu)\, g",
                "a running average of the gradients, starts at 0",
            ),
            UpdateRule(
                "θ", lambda theta, v, learning_rate: theta - learning_rate * v, r"\theta - \eta v"
            ),
        ),
        state={"v": "velocity"},
        worked=(
            Notation(
                "v(θ) ← μ*v(θ) + (1 - μ)*dL/dθ,  θ ← θ - η*v(θ),   "
                "η = {learning_rate}, μ = {momentum}",
                r"v \leftarrow \mu v + (1 - \mu) \frac{{\partial L}}{{\partial \theta}}, \quad "
                r"\theta \leftarrow \theta - \eta v, \quad "
                r"\eta = {learning_rate}, \mu = {momentum}",
            ),
        ),
    )

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(learning_rate)
        self.momentum = float(momentum)
        self.velocity: np.ndarray | None = None

    def _allocate(self, params: np.ndarray) -> None:
        super()._allocate(params)
        self.velocity = np.zeros_like(params)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.velocity *= self.momentum
        self.velocity += (1 - self.momentum) * grads
        params -= self.learning_rate * self.velocity

    def hyperparameters(self) -> dict[str, float]:
        return {**super().hyperparameters(), "momentum": self.momentum}


@pytest.fixture
def registered(monkeypatch):
    """Softplus and AveragedMomentum registered as chainrule registers its own; the registries
    have no unregister, so monkeypatch gives them back their tables after the test."""
    for registry in (ACTIVATIONS, LAYERS, OPTIMIZERS):
        monkeypatch.setattr(registry, "_factories", dict(registry._factories))
    ACTIVATIONS.register("softplus", Softplus)
    LAYERS.register("softplus", Softplus)
    OPTIMIZERS.register("averaged_momentum", AveragedMomentum)


def softplus(z: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(z))


def softplus_derivative(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def model() -> Sequential:
    return Sequential([Dense(4), Softplus(), Dense(2), Sigmoid()], loss="mse", input_shape=(3,))


# -- a new activation ------------------------------------------------------------------------


def test_derive_writes_the_new_activations_forward_and_derivative():
    text = derive(model(), fmt="markdown")
    assert r"$A_1 = \log(1 + e^{Z_1})$ $(m \times 4)$ — softplus, element-wise" in text
    assert r"$\delta_1 = (\delta_2 W_2^\top) \odot (1 - e^{-A_1})$" in text
    assert r"$f'(z) = 1 - e^{-a}$, from the output" in text
    assert "`softplus_1` (softplus)" in text
    assert "δ₁ = (δ₂ W₂ᵀ) ⊙ (1 − e^(−A₁))" in derive(model(), fmt="text")


def test_the_backward_graph_labels_its_edge_with_its_derivative():
    dot = graph_dot(model(), backward=True)
    assert "a₁ = log(1 + e^(z₁))" in dot
    assert "⊙ f'(z₁)\\n= (1 − e^(−a₁))" in dot


def test_explain_works_the_new_activation_out_number_by_number(registered):
    raw = load_raw(CLASSIC)
    raw["layers"][1]["activation"] = "softplus"
    W, b = initial_parameters(raw)
    ref = reference_step(raw, W, b, custom={"softplus": (softplus, softplus_derivative)})
    record = compute(parse_spec(raw))
    step = record.steps[0]
    assert step.verification.passed  # the engine's own backward and finite differences agree
    example = step.examples[0]
    np.testing.assert_allclose(example.a[1], ref["a"][0][1], rtol=1e-14)
    np.testing.assert_allclose(example.local[1], np.diag(ref["local"][0][1]), rtol=1e-12)
    for i in range(3):
        np.testing.assert_allclose(step.dW[i], ref["mean_dW"][i], rtol=1e-12, atol=1e-18)
    text = render(record)
    values = printed_values(text)
    for j in range(2):
        assert_printed(values, f"a2[{j + 1}]", ref["a"][0][1][j])
        assert_printed(values, f"softplus'(z2[{j + 1}])", ref["local"][0][1][j, j])
        assert_printed(values, f"δ2[{j + 1}]", ref["delta"][0][1][j])
    a = example.a[1][0]
    assert f"softplus'(z2[1]) = 1 - exp(-a2[1]) = 1 - exp(-{a:.4g}) = " in " ".join(text.split())
    assert "where softplus(z) = log(1 + exp(z))" in text
    assert "softplus'(z) = 1 - exp(-a), from the output a" in text
    assert "3 inputs -> 3 (ReLU) -> 2 (softplus) -> 2 (sigmoid)" in text
    assert "\\operatorname{softplus}'(z) = 1 - e^{-a}" in render(record, fmt="latex")


# -- a new optimizer -------------------------------------------------------------------------


def test_derive_writes_the_new_optimizers_update():
    text = derive(model(), AveragedMomentum(0.05, momentum=0.8))
    assert "## Update: momentum as a running average" in text
    # Markdown spells TeX's punctuation commands by name (\, as \thinspace) for GitHub's sake
    assert (
        r"$v \leftarrow \mu v + (1 - \mu)\thinspace g$ — a running average of the gradients" in text
    )
    assert r"Hyperparameters: $\eta = 0.05, \mu = 0.8$." in text


def test_explain_works_the_new_optimizer_out_step_by_step(registered):
    raw = load_raw(CLASSIC)
    raw["optimizer"] = {"name": "averaged_momentum", "learning_rate": 0.5, "momentum": 0.8}
    raw["update"] = {"biases": True}
    raw["steps"] = 2
    record = compute(parse_spec(raw))
    W, b = initial_parameters(raw)
    velocity = [np.zeros_like(w) for w in W]
    history = []
    for step in record.steps:
        ref = reference_step(raw, W, b)
        velocity = [0.8 * v + 0.2 * g for v, g in zip(velocity, ref["mean_dW"], strict=True)]
        W = [w - 0.5 * v for w, v in zip(W, velocity, strict=True)]
        for i in range(3):
            np.testing.assert_allclose(step.W_new[i], W[i], rtol=1e-13)
        history.append(velocity[0][0, 0])
        b = step.b_new  # biases follow the same rule; the weights are checked above
    text = render(record)
    assert "v(θ) ← μ*v(θ) + (1 - μ)*dL/dθ,  θ ← θ - η*v(θ),   η = 0.5, μ = 0.8" in text
    assert "Optimizer: averaged momentum (learning_rate 0.5, momentum 0.8); 2 steps." in text
    second = text.split("STEP 2 OF 2")[1]
    assert_printed(printed_values(second), "v(W1[1,1])", history[1])
    # the rule in symbols, then with step 1's velocity (a negative factor in parentheses)
    before = shown(history[0]) if history[0] >= 0 else f"({shown(history[0])})"
    rule = f"v(W1[1,1]) ← μ*v(W1[1,1]) + (1 - μ)*dL/dW1[1,1] = 0.8*{before} + (1 - 0.8)*"
    assert rule in " ".join(second.split())  # a long equation wraps after its "="


def test_an_optimizer_without_the_worked_lines_is_refused_by_the_spec(registered):
    raw = load_raw(CLASSIC)
    raw["optimizer"] = {"name": "rmsprop", "learning_rate": 0.1}
    with pytest.raises(
        ValueError,
        match="writes out gd/sgd, momentum, classic_momentum, nesterov, adam and averaged_momentum",
    ):
        parse_spec(raw)
