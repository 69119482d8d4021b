"""derive(): the vectorized equations of one training step, with this model's shapes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chainrule.explain.derivation import derive, network_plan
from chainrule.nn.layers import (
    Dense,
    Dropout,
    Flatten,
    Identity,
    ImprovedSigmoid,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.model import Sequential
from chainrule.nn.optim import SGD, AdaGrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RMSProp
from chainrule.reporting.formats import FORMATS

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def mnist_sigmoid_softmax() -> Sequential:
    """784-64-10, sigmoid hidden layer, softmax + categorical cross-entropy."""
    return Sequential(
        [Dense(64), Sigmoid(), Dense(10), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(784,),
    )


# --------------------------------------------------------------------------- 784-64-10


def test_softmax_cross_entropy_gives_the_fused_output_delta():
    text = derive(mnist_sigmoid_softmax(), SGD(0.1))
    assert r"$\delta_2 = (A_2 - Y)/m$ $(m \times 10)$" in text
    assert "the backward pass starts here, at the logits" in text


def test_every_matrix_is_shown_with_the_models_real_sizes():
    text = derive(mnist_sigmoid_softmax())
    for symbol, shape in [
        ("X", r"m \times 784"),
        ("W_1", r"784 \times 64"),
        ("b_1", r"1 \times 64"),
        ("Z_1", r"m \times 64"),
        ("A_1", r"m \times 64"),
        ("W_2", r"64 \times 10"),
        ("b_2", r"1 \times 10"),
        ("A_2", r"m \times 10"),
        ("Y", r"m \times 10"),
    ]:
        assert f"| ${symbol}$ | ${shape}$ |" in text
    assert r"$Z_1 = X W_1 + b_1$ $(m \times 64)$" in text
    assert r"$A_1 = \sigma(Z_1)$ $(m \times 64)$" in text
    assert r"$A_2 = \operatorname{softmax}(Z_2)$ $(m \times 10)$" in text


def test_the_delta_recursion_reads_sigmoids_derivative_from_its_output():
    text = derive(mnist_sigmoid_softmax())
    assert r"\delta_l = (\delta_{l+1} W_{l+1}^\top) \odot f_l'(Z_l)" in text
    assert r"$\delta_1 = (\delta_2 W_2^\top) \odot A_1 \odot (1 - A_1)$ $(m \times 64)$" in text
    assert r"$\sigma'(z) = a(1 - a)$" in text


def test_parameter_gradients_are_a_transpose_times_delta_and_column_sums():
    text = derive(mnist_sigmoid_softmax())
    assert r"$\partial\mathcal{L}/\partial W_2 = A_1^\top \delta_2$ $(64 \times 10)$" in text
    assert r"$\partial\mathcal{L}/\partial W_1 = X^\top \delta_1$ $(784 \times 64)$" in text
    assert r"$\partial\mathcal{L}/\partial b_1 = \mathbf{1}^\top \delta_1$ $(1 \times 64)$" in text
    assert r"column sums of $\delta_1$" in text
    assert r"\lambda" not in text  # no L2 term without l2


def test_the_layout_is_stated_with_the_textbook_form():
    text = derive(mnist_sigmoid_softmax())
    assert "$Z = A W + b$" in text and "`fan_in × fan_out`" in text
    assert "$z = W x + b$" in text and "transpose" in text


def test_the_recipe_model_and_optimizer_derive_with_their_hyperparameters():
    from chainrule.app.recipes import load_recipe

    path = RECIPES / "mlp-784-64-10-sigmoid.yaml"
    if not path.exists():
        pytest.skip(f"recipe {path} not found")
    recipe = load_recipe(path)
    text = derive(recipe.build_model(), recipe.build_optimizer())
    assert r"(A_2 - Y)/m" in text
    assert r"$\theta \leftarrow \theta - \eta g$" in text
    assert r"$\eta = 0.1$" in text


# --------------------------------------------------------------------------- other losses


@pytest.mark.parametrize(
    ("reduction", "gradient"),
    [
        ("mean", r"2(A_2 - Y)/(m k)"),
        ("sum", r"2(A_2 - Y)/m"),
        ("half_sum", r"(A_2 - Y)/m"),
    ],
)
def test_mse_gives_the_output_delta_of_its_reduction(reduction, gradient):
    model = Sequential(
        [Dense(8), ReLU(), Dense(3), Identity()],
        loss={"name": "mse", "reduction": reduction},
        input_shape=(5,),
    )
    text = derive(model)
    assert rf"$\partial\mathcal{{L}}/\partial A_2 = {gradient}$ $(m \times 3)$" in text
    assert r"$\delta_2 = \partial\mathcal{L}/\partial A_2$" in text  # identity output
    assert r"$\delta_1 = (\delta_2 W_2^\top) \odot [Z_1 > 0]$" in text  # ReLU' = [z > 0]
    assert ("$k = 3$" in text) == (reduction == "mean")


def test_mse_through_a_sigmoid_output_multiplies_by_sigmoids_derivative():
    model = Sequential([Dense(4), Tanh(), Dense(2), Sigmoid()], loss="mse", input_shape=(3,))
    text = derive(model)
    assert r"$\delta_2 = (\partial\mathcal{L}/\partial A_2) \odot A_2 \odot (1 - A_2)$" in text
    assert r"$\delta_1 = (\delta_2 W_2^\top) \odot (1 - A_1 \odot A_1)$" in text  # tanh'
    assert "fused" not in text


def test_sigmoid_with_binary_cross_entropy_is_fused_over_m_times_k():
    model = Sequential(
        [Dense(5), LeakyReLU(0.1), Dense(1), Sigmoid()],
        loss="binary_crossentropy",
        input_shape=(4,),
    )
    text = derive(model)
    assert r"$\delta_2 = (A_2 - Y)/(m k)$ $(m \times 1)$" in text
    assert "$k = 1$" in text
    assert r"([Z_1 > 0] + 0.1\,[Z_1 \le 0])" in text  # leaky ReLU's derivative


def test_unfused_softmax_goes_through_the_jacobian():
    model = Sequential(
        [Dense(5), ImprovedSigmoid(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(4,),
        fuse_loss=False,
    )
    text = derive(model)
    assert r"$\partial\mathcal{L}/\partial A_2 = -Y \oslash A_2 \,/\, m$" in text
    assert r"\operatorname{rowsum}(G \odot A_2)" in text
    assert r"(A_2 - Y)/m" in text  # named as what fusing would compute
    assert r"(2/3)(1.7159 - A_1 \odot A_1/1.7159)" in text


def test_l2_dropout_and_flatten_appear_where_the_model_has_them():
    model = Sequential(
        [Flatten(), Dense(6), ReLU(), Dropout(0.25), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(1, 4, 4),
        l2=0.001,
    )
    text = derive(model)
    assert r"$A_0 = \operatorname{reshape}(X)$ $(m \times 16)$" in text
    assert r"m \times 1 \times 4 \times 4" in text
    assert r"$\tilde{A}_1 = A_1 \odot M_1$" in text
    assert r"$\delta_1 = (\delta_2 W_2^\top) \odot M_1 \odot [Z_1 > 0]$" in text
    assert r"= \tilde{A}_1^\top \delta_2 + \lambda W_2$" in text
    assert r"= \mathbf{1}^\top \delta_2$" in text  # biases are not regularized
    assert r"\mathcal{L}_{\text{total}}" in text and r"$\lambda = 0.001$" in text


# --------------------------------------------------------------------------- optimizers


@pytest.mark.parametrize(
    ("optimizer", "expected"),
    [
        (SGD(0.05), [r"\theta \leftarrow \theta - \eta g", r"\eta = 0.05"]),
        (
            Momentum(0.02, momentum=0.8),
            [r"v \leftarrow \mu v + g", r"\theta \leftarrow \theta - \eta v", r"\mu = 0.8"],
        ),
        (Nesterov(0.02), [r"\theta - \eta (g + \mu v)", r"\eta = 0.02, \mu = 0.9"]),
        (AdaGrad(0.1), [r"s \leftarrow s + g \odot g", r"(\sqrt{s} + \epsilon)", "10^{-10}"]),
        (
            RMSProp(0.001, rho=0.9),
            [r"\rho s + (1 - \rho)\, g \odot g", r"\rho = 0.9", r"\epsilon = 10^{-8}"],
        ),
        (
            Adam(),
            [
                r"m \leftarrow \beta_1 m + (1 - \beta_1)\, g",
                r"\hat{m} = m/(1 - \beta_1^t)",
                r"\hat{m} \oslash (\sqrt{\hat{v}} + \epsilon)",
                r"\eta = 0.001, \beta_1 = 0.9, \beta_2 = 0.999, \epsilon = 10^{-8}",
            ],
        ),
        (
            AdamW(weight_decay=0.05),
            [r"\theta \leftarrow \theta\,(1 - \eta \lambda_w)", r"\lambda_w = 0.05", "Adam"],
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Optimizer) else "",
)
def test_each_optimizers_update_rule_appears_with_its_hyperparameters(optimizer, expected):
    text = derive(mnist_sigmoid_softmax(), optimizer)
    assert r"$\theta \in \{W_1, b_1, W_2, b_2\}$" in text
    for fragment in expected:
        assert fragment in text


def test_without_an_optimizer_the_update_section_is_left_out():
    assert "Update" not in derive(mnist_sigmoid_softmax())


# --------------------------------------------------------------------------- formats


def _check_latex_structure(latex: str) -> None:
    unescaped = re.sub(r"\\[{}]", "", latex)
    depth = 0
    for ch in unescaped:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, "a } closes more than was opened"
    assert depth == 0, "unbalanced braces"
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", latex):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, f"\\end{{{name}}} without its \\begin"
    assert not stack, f"unclosed environments: {stack}"
    for paragraph in latex.split("\n\n"):
        assert len(re.findall(r"(?<!\\)\$", paragraph)) % 2 == 0, paragraph


@pytest.mark.parametrize(
    "model",
    [
        mnist_sigmoid_softmax(),
        Sequential(
            [Flatten(), Dense(6), ReLU(), Dropout(0.25), Dense(2), Sigmoid()],
            loss="mse",
            input_shape=(1, 4, 4),
            l2=0.01,
        ),
    ],
    ids=["784-64-10", "dropout-l2-mse"],
)
def test_latex_is_balanced_ascii_with_align_environments(model):
    latex = derive(model, AdamW(), fmt="latex")
    _check_latex_structure(latex)
    assert latex.isascii()
    assert r"\begin{align*}" in latex
    assert r"\delta_1 &= (\delta_2 W_2^\top)" in latex
    assert r"\texttt{dense\_1}" in latex  # layer names escaped


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles_in_a_minimal_document(tmp_path):
    body = derive(mnist_sigmoid_softmax(), Adam(), fmt="latex")
    document = (
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
        f"{body}\n\\end{{document}}\n"
    )
    (tmp_path / "derive.tex").write_text(document)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "derive.tex"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode(errors="replace")[-3000:]
    assert (tmp_path / "derive.pdf").stat().st_size > 0


def test_text_is_plain_unicode_for_a_terminal():
    text = derive(mnist_sigmoid_softmax(), SGD(0.1), fmt="text")
    assert "\\" not in text and "$" not in text
    assert "δ₂ = (A₂ − Y)/m" in text
    assert "δ₁ = (δ₂ W₂ᵀ) ⊙ A₁ ⊙ (1 − A₁)" in text
    assert "784 × 64" in text
    assert "θ ← θ − η g" in text and "η = 0.1" in text


# --------------------------------------------------------------------------- errors


def test_every_document_format_renders_the_same_equations():
    model = mnist_sigmoid_softmax()
    assert [fmt for fmt in FORMATS if derive(model, fmt=fmt).endswith("\n")] == list(FORMATS)
    page = derive(model, SGD(0.1), fmt="html")
    assert page.startswith("<!DOCTYPE html>") and "<h1>One training step of a 784-64-10" in page
    assert "δ₂ = (A₂ − Y)/m" in derive(model, fmt="text")
    assert 'δ₂</span></td><td class="rel"><span class="math">=</span></td>' in page


def test_an_unknown_format_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown format 'pdf'; valid formats: text, markdown"):
        derive(mnist_sigmoid_softmax(), fmt="pdf")


def test_a_model_without_a_loss_cannot_be_derived():
    model = Sequential([Dense(2), Sigmoid()], input_shape=(3,))
    with pytest.raises(ValueError, match="no loss"):
        derive(model)


def test_an_unknown_optimizer_is_refused_by_name():
    class Lion(Optimizer):
        type_name = "lion"

    with pytest.raises(ValueError, match="no update rule on record for Lion"):
        derive(mnist_sigmoid_softmax(), Lion(0.1))


def test_the_plan_names_one_tensor_per_matrix():
    plan = network_plan(mnist_sigmoid_softmax())
    assert list(plan.tensors) == ["x", "W1", "b1", "z1", "a1", "W2", "b2", "z2", "a2", "y", "loss"]
    assert plan.fused and plan.logits == "z2" and plan.depth == 2


def test_an_activation_without_a_math_description_is_refused_by_name():
    from chainrule.nn.layers import Activation

    class Mystery(Activation):
        type_name = "mystery"

    model = Sequential([Dense(2), Mystery()], loss="mse", input_shape=(3,))
    with pytest.raises(ValueError, match="no derivative on record for activation Mystery"):
        derive(model)
