"""The printed names: activations' function names come from their own descriptions."""

from __future__ import annotations

from chainrule.explain.symbols import Applied, hyperparameter, quantity, sym_W, sym_z, vector
from chainrule.nn.formulas import Notation
from chainrule.nn.layers import ReLU, Sigmoid
from chainrule.nn.optim import EPSILON, ETA, LAMBDA_W
from chainrule.reporting.expr import Call, Style

TEXT, LATEX = Style("text", 4), Style("latex", 4)


def test_an_applied_function_prints_like_the_expression_printers_calls():
    for layer, name in ((ReLU(), "relu"), (Sigmoid(), "sigmoid")):
        for prime in (False, True):
            ours = Applied(layer.math.symbol, sym_z(1, 2), prime=prime)
            theirs = Call(name, sym_z(1, 2), prime=prime)
            assert ours.render(TEXT) == theirs.render(TEXT)
            assert ours.render(LATEX) == theirs.render(LATEX)
    softplus = Applied(Notation("softplus", r"\operatorname{softplus}"), sym_z(2, 1), prime=True)
    assert softplus.render(TEXT) == "softplus'(z2[1])"


def test_update_quantities_and_hyperparameters():
    theta = sym_W(1, 1, 2)
    assert quantity("θ", theta) is theta
    assert quantity("v", theta).render(TEXT) == "v(W1[1,2])"
    assert quantity("m_hat", theta).render(LATEX) == r"\hat{m}[W^{(1)}_{1,2}]"
    assert hyperparameter(ETA).render(LATEX) == r"\eta"
    assert hyperparameter(EPSILON).render(LATEX) == r"\varepsilon"  # as the worked example writes ε
    assert hyperparameter(LAMBDA_W).render(LATEX) == r"\lambda_w"  # not in the printer's table
    assert vector("a", 3) == Notation("a3", "a^{(3)}")
