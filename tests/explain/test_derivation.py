"""derive(): the vectorized equations of one training step, with this model's shapes."""

from __future__ import annotations

import html
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from convolutional_models import every_layer_kind, with_a_new_layer

from chainrule.explain.derivation import derive, network_plan
from chainrule.nn.layers import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Identity,
    ImprovedSigmoid,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.model import Sequential
from chainrule.nn.optim import SGD, AdaGrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RMSProp
from chainrule.reporting.formats import FORMATS
from chainrule.reporting.render_markdown import markdown_tex as md  # TeX as Markdown writes it

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
    assert md(r"$\delta_1 = (\delta_2 W_2^\top) \odot [Z_1 > 0]$") in text  # ReLU' = [z > 0]
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
    assert md(r"([Z_1 > 0] + 0.1\,[Z_1 \le 0])") in text  # leaky ReLU's derivative


def test_unfused_softmax_goes_through_the_jacobian():
    model = Sequential(
        [Dense(5), ImprovedSigmoid(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(4,),
        fuse_loss=False,
    )
    text = derive(model)
    assert md(r"$\partial\mathcal{L}/\partial A_2 = -Y \oslash A_2 \,/\, m$") in text
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
    assert md(r"$\delta_1 = (\delta_2 W_2^\top) \odot M_1 \odot [Z_1 > 0]$") in text
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
    assert md(r"$\theta \in \{W_1, b_1, W_2, b_2\}$") in text
    for fragment in expected:
        assert md(fragment) in text


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
@pytest.mark.parametrize("network", ["784-64-10", "cnn"])
def test_latex_compiles_in_a_minimal_document(tmp_path, network):
    model = mnist_sigmoid_softmax() if network == "784-64-10" else every_layer_kind()
    body = derive(model, Adam(), fmt="latex")
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
    assert 'δ₂</span></td><td class="rel"><span class="math" data-tex="=">=</span></td>' in page


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


# --------------------------------------------------------------------------- convolutional networks


def equations(model: Sequential) -> dict[str, str]:
    """Each equation row of the derivation, ``"lhs = rhs"`` in TeX -> its shape and note as
    plain text (independent of how a renderer sets the math)."""
    from chainrule.explain.derivation import derivation
    from chainrule.reporting.document import Equations, plain_text

    rows = {}
    for block in derivation(model).blocks:
        if isinstance(block, Equations):
            for row in block.rows:
                key = f"{row.lhs.tex} {row.rel.tex} {' = '.join(side.tex for side in row.rhs)}"
                shape = " × ".join(map(str, row.shape)) if row.shape else ""
                rows[key] = f"({shape}) {plain_text(row.note)}"
    return rows


def prose_text(model: Sequential) -> str:
    """The derivation's paragraphs and notes as plain text."""
    return derive(model, fmt="text")


def cnn_recipes() -> list[Path]:
    """Every recipe in recipes/ whose model has a convolution (grids of recipes aside)."""
    from chainrule.nn.layers import LAYERS
    from chainrule.utils.yamlfile import read_yaml_mapping

    found = []
    for path in sorted(RECIPES.glob("*.yaml")):
        model = read_yaml_mapping(path, "a recipe").get("model")
        layers = model.get("layers", []) if isinstance(model, dict) else []
        types = [layer.get("type") if isinstance(layer, dict) else layer for layer in layers]
        if any(LAYERS.get(name) is Conv2D for name in types if isinstance(name, str)):
            found.append(path)
    return found


def engine_shapes(model: Sequential, batch: int) -> dict[tuple[str, str], tuple[int, ...]]:
    """The shape of every array one real training step of ``model`` makes, on a random batch:
    (layer, "x" | "out" | "dout" | "dx") for each layer's input, output and the gradients its
    backward receives and returns, ("param", name) for each parameter and its gradient."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, *model.input_shape)).astype(model.dtype)
    classes = model.output_shape[-1]
    y = np.eye(classes, dtype=model.dtype)[rng.integers(0, classes, batch)]
    shapes: dict[tuple[str, str], tuple[int, ...]] = {}

    def recording(layer):
        forward, backward = layer.forward, layer.backward

        def record_forward(inputs, training=False):
            shapes[(layer.name, "x")] = inputs.shape
            outputs = forward(inputs, training)
            shapes[(layer.name, "out")] = outputs.shape
            return outputs

        def record_backward(dout):
            shapes[(layer.name, "dout")] = dout.shape
            dx = backward(dout)
            if dx is not None:
                shapes[(layer.name, "dx")] = dx.shape
            return dx

        layer.forward, layer.backward = record_forward, record_backward

    for layer in model.layers:
        recording(layer)
    model.forward(x, training=True)
    model.backward(y, input_grad=True)
    for name in model.params:
        assert model.grads[name].shape == model.params[name].shape
        shapes[("param", name)] = model.params[name].shape
    return shapes


def expected_shape(plan, key: str, shapes: dict, gradient: bool) -> tuple[int, ...]:
    """What the engine's arrays say tensor ``key`` of the plan (or its gradient) measures."""
    tensor = plan.tensors[key]
    layers = {layer.name: layer for layer in plan.model.layers}
    layer = layers.get(tensor.layer)
    if tensor.role == "input":
        return shapes[(plan.model.layers[0].name, "dx" if gradient else "x")]
    if tensor.role == "target":
        return shapes[(plan.model.layers[-1].name, "out")]
    if tensor.role == "param":
        local = next(n for n in ("gamma", "beta", "W", "b") if key.startswith(n))
        return shapes[("param", f"{layer.name}.{local}")]
    if tensor.role == "cols":  # X̂: a row per kernel entry, a column per output position
        kernel = shapes[("param", f"{layer.name}.W")]
        out = shapes[(layer.name, "out")]
        return (out[0], math.prod(kernel[1:]), out[2] * out[3])
    if tensor.role == "view":  # Ŵ: one filter a row
        kernel = shapes[("param", f"{layer.name}.W")]
        return (kernel[0], math.prod(kernel[1:]))
    if tensor.role == "stat":  # μ, σ²: one per channel, as γ
        return shapes[("param", f"{layer.name}.gamma")]
    if tensor.role == "standardized":  # x̂ has the input's shape
        return shapes[(layer.name, "x")]
    if tensor.role == "mask":
        return shapes[(layer.name, "out")]
    # a layer's output: its gradient is what that layer's backward received
    if gradient and (layer.name, "dout") in shapes:
        return shapes[(layer.name, "dout")]
    if gradient:  # the fused output activation: the loss's gradient enters below it
        position = plan.model.layers.index(layer)
        return shapes[(plan.model.layers[position - 1].name, "dout")]
    return shapes[(layer.name, "out")]


def stated_shapes(document) -> list[tuple[str, tuple[str, ...]]]:
    """(lhs TeX, shape) of every equation row with a shape, and every row of the shapes table."""
    from chainrule.reporting.document import Equations, Table

    stated = []
    for block in document.blocks:
        if isinstance(block, Equations):
            stated += [(row.lhs.tex, row.shape) for row in block.rows if row.shape is not None]
        elif isinstance(block, Table):
            for symbol, shape, _ in block.rows:
                parts = shape[0].tex.split(r" \times ")
                stated.append((symbol[0].tex, tuple(parts) if parts != ["1"] else ()))
    return stated


def check_shapes_against_the_engine(model: Sequential, batch: int = 2) -> int:
    from chainrule.explain.derivation import derivation

    plan = network_plan(model)
    document = derivation(model)
    shapes = engine_shapes(model, batch)
    symbols = {tensor.tex: key for key, tensor in plan.tensors.items()}
    deltas = {f"\\delta_{t.stage}": key for key, t in plan.tensors.items() if t.role == "pre"}
    checked = 0
    for lhs, shape in stated_shapes(document):
        symbol = re.sub(r"\[[^\]]*\]$", "", lhs)  # Z_1[n], dA[n, c, i, j]: the whole tensor
        gradient = symbol.startswith(r"\partial\mathcal{L}/\partial ") or symbol in deltas
        symbol = symbol.removeprefix(r"\partial\mathcal{L}/\partial ")
        key = deltas.get(symbol) or symbols[symbol]
        want = expected_shape(plan, key, shapes, gradient)
        got = tuple(batch if d == "m" else int(d) for d in shape)
        if got == (1, *want) and plan.tensors[key].role == "param":
            got = want  # a Dense bias is shown as the row it adds to every example
        assert got == want, f"{lhs}: derive says {shape}, the engine has {want}"
        checked += 1
    return checked


@pytest.mark.parametrize("path", cnn_recipes(), ids=lambda path: path.stem)
def test_every_shape_derive_states_for_a_cnn_recipe_is_the_engines(path):
    from chainrule.app.recipes import load_recipe

    model = load_recipe(path).build_model()
    assert check_shapes_against_the_engine(model) >= 2 * len(network_plan(model).tensors)


def test_every_shape_derive_states_is_the_engines_for_every_layer_kind():
    assert check_shapes_against_the_engine(every_layer_kind(), batch=3) > 40


def test_the_recipes_hold_a_cnn_to_derive():
    assert {path.stem for path in cnn_recipes()} >= {"cnn-small", "cnn-lenet"}


def test_a_convolution_is_im2col_and_one_matrix_product_per_example():
    rows, text = equations(every_layer_kind()), prose_text(every_layer_kind())
    assert rows[r"\hat{X}_1 = \operatorname{im2col}(X)"].startswith("(m × 18 × 36)")
    assert "K = C kₕ k_w = 2 · 3 · 3 = 18 rows" in text
    assert "zero-padded by 1 on each side" in text
    assert rows[r"Z_1[n] = \hat{W}_1\, \hat{X}_1[n] + b_1"].startswith("(m × 4 × 6 × 6)")
    assert r"Z_2[n] = \hat{W}_2\, \hat{X}_2[n]" in rows  # no bias
    assert rows[
        r"\partial\mathcal{L}/\partial \hat{W}_2 = \sum_n \delta_2[n]\, \hat{X}_2[n]^\top"
    ].startswith("(3 × 16)")
    assert r"\partial\mathcal{L}/\partial \hat{X}_2[n] = \hat{W}_2^\top \delta_2[n]" in rows
    col2im = (
        r"\partial\mathcal{L}/\partial P_1 = "
        r"\operatorname{col2im}(\partial\mathcal{L}/\partial \hat{X}_2)"
    )
    assert rows[col2im].startswith("(m × 4 × 3 × 3)")
    assert (
        r"\partial\mathcal{L}/\partial W_1 = "
        r"\operatorname{reshape}(\partial\mathcal{L}/\partial \hat{W}_1) + \lambda W_1"
    ) in rows
    assert "flipped in both spatial axes" in text
    # the first convolution's input gradient is not computed, as in the engine
    assert not any(r"\partial \hat{X}_1" in row for row in rows)
    assert "nothing needs ∂L/∂X and the engine skips it" in text


def test_pooling_routes_delta_to_the_argmax_or_spreads_it_evenly():
    rows, text = equations(every_layer_kind()), prose_text(every_layer_kind())
    routed = (
        r"\partial\mathcal{L}/\partial A_2[n, c, i + p^*, j + q^*] = "
        r"\partial\mathcal{L}/\partial P_2[n, c, i, j]"
    )
    assert "where windows overlap, their shares add" in rows[routed]  # stride 1 < pool 2
    assert "first maximum in row-major order" in text
    spread = (
        r"\partial\mathcal{L}/\partial A_1[n, c, 2i + p, 2j + q] = "
        r"\partial\mathcal{L}/\partial P_1[n, c, i, j]/4"
    )
    assert "equal shares" in rows[spread]
    assert r"P_1[n, c, i, j] = (1/4) \sum_{p,q} A_1[n, c, 2i + p, 2j + q]" in rows


def test_batchnorm_gives_dgamma_dbeta_and_dx_per_channel():
    rows, text = equations(every_layer_kind()), prose_text(every_layer_kind())
    assert r"\hat{Z}_1 = (Z_1 - \mu_1) \oslash \sqrt{\sigma^2_1 + \epsilon}" in rows
    assert "M = m · 6 · 6" in text
    dbeta = r"\partial\mathcal{L}/\partial \beta_1 = \sum_{n,h,w} \partial\mathcal{L}/\partial B_1"
    assert rows[dbeta].startswith("(4)")
    assert (
        r"\partial\mathcal{L}/\partial \gamma_1 = "
        r"\sum_{n,h,w} \partial\mathcal{L}/\partial B_1 \odot \hat{Z}_1"
    ) in rows
    dx = (
        r"\delta_1 = (\gamma_1 \oslash \sqrt{\sigma^2_1 + \epsilon}) \odot "
        r"(\partial\mathcal{L}/\partial B_1 - \operatorname{mean}(\partial\mathcal{L}/\partial B_1)"
        r" - \hat{Z}_1 \odot \operatorname{mean}(\partial\mathcal{L}/\partial B_1 \odot \hat{Z}_1))"
    )
    assert rows[dx].startswith("(m × 4 × 6 × 6)")


def test_batchnorm_in_a_dense_network_is_derived_layer_by_layer():
    model = Sequential(
        [Dense(6), BatchNorm(), ReLU(), Dense(2), Sigmoid()],
        loss="binary_crossentropy",
        input_shape=(4,),
    )
    text = derive(model, SGD(0.1), fmt="text")
    assert "One training step of a 4-6-2 network with batch norm" in text
    assert "∂L/∂β₁ = Σₙ ∂L/∂B₁" in text and "M = m values" in text
    assert "θ ∈ {W₁, b₁, γ₁, β₁, W₂, b₂}" in text
    assert check_shapes_against_the_engine(model, batch=5) > 20


def test_flatten_reshapes_both_ways():
    rows = equations(every_layer_kind())
    assert rows[r"F_2 = \operatorname{reshape}(P_2)"].startswith("(m × 3)")
    assert (
        r"\partial\mathcal{L}/\partial P_2 = \operatorname{reshape}(\partial\mathcal{L}/\partial F_2)"
    ) in rows


def test_a_cnn_recipe_derives_in_every_format():
    from chainrule.app.recipes import load_recipe

    recipe = load_recipe(RECIPES / "cnn-lenet.yaml")
    model, optimizer = recipe.build_model(), recipe.build_optimizer()
    text = derive(model, optimizer, fmt="text")
    assert "One training step of a convolutional network, 1×28×28 → 10" in text
    assert "K = C kₕ k_w = 32 · 3 · 3 = 288 rows" in text
    for row in ("X̂₂ = im2col(P₁)", "∂L/∂Ŵ₂ = Σₙ δ₂[n] X̂₂[n]ᵀ", "∂L/∂P₁ = col2im(∂L/∂X̂₂)"):
        lhs, rhs = row.split(" = ")
        assert re.search(rf"{re.escape(lhs)} +{re.escape('= ' + rhs)}", text), row
    assert "\\" not in text and "$" not in text
    # the windows are written 0-based (2i + p), explain's 1-based (2(i-1)+p): both are said
    assert "counted from 0" in text and "2i + p" in text and "counts from 1" in text
    page = derive(model, optimizer, fmt="html")
    assert page.startswith("<!DOCTYPE html>") and "convolutional network" in page
    latex = derive(model, optimizer, fmt="latex")
    _check_latex_structure(latex)
    assert latex.isascii()


def test_each_layers_docstring_ends_with_the_equations_derive_reads():
    for layer in (Conv2D, MaxPool2D, AvgPool2D, BatchNorm, Flatten):
        rows = layer.math.forward + layer.math.backward
        assert f"({layer.math.name}, from ``math``)" in layer.__doc__
        for row in rows:
            assert row.text in layer.__doc__


def test_the_layers_math_values_are_the_layers_own_numbers():
    model = every_layer_kind()
    conv = model.layers[0]
    values = conv.math.values(conv)
    assert values["K"] == conv.W[0].size and values["L"] == math.prod(conv.output_shape[1:])
    pool = model.layers[3]
    assert pool.math.values(pool)["P"] == 4


def test_the_plan_names_a_convolutions_im2col_and_its_kernels_as_a_matrix():
    plan = network_plan(every_layer_kind())
    assert [s.kind for s in plan.steps[:3]] == ["im2col", "conv", "batchnorm"]
    assert plan.tensors["cols1"].shape == ("m", 18, 36) and plan.tensors["Wh1"].shape == (4, 18)
    assert plan.regularized == ["W1", "W2", "W3"]  # weights only: no biases, no γ, β


def test_in_a_notebook_the_derivation_shows_typeset_math():
    """derive() returns a str that a notebook shows as Markdown; rendered as Jupyter renders
    Markdown (nbconvert: math set aside for MathJax), every formula comes out as written."""
    filters = pytest.importorskip("nbconvert.filters.markdown_mistune")
    formatter = pytest.importorskip("IPython.core.formatters").DisplayFormatter()
    markdown = derive(mnist_sigmoid_softmax(), Adam(0.001))
    assert isinstance(markdown, str) and repr(markdown) == str(markdown)
    assert formatter.format(markdown)[0]["text/markdown"] == str(markdown)
    page = filters.markdown2html_mistune(markdown)
    spans = re.findall(r"\$\$[^$]+\$\$|\$[^$]+\$", markdown)
    assert len(spans) > 40
    for span in spans:
        assert html.escape(span, quote=False) in page, span
    assert "<em>" not in page
    assert formatter.format(derive(mnist_sigmoid_softmax(), fmt="text"))[0].keys() == {"text/plain"}


def test_a_new_layer_is_derived_from_its_own_math():
    model = with_a_new_layer()
    rows = equations(model)
    assert (
        rows[r"S_1 = \gamma_1 \odot Z_1"] == "(m × 2 × 4 × 4) channel_scale_1: one scale a channel"
    )
    assert (
        r"\partial\mathcal{L}/\partial \gamma_1 = \sum_{n,h,w} \partial\mathcal{L}/\partial S_1 \odot Z_1"
        in rows
    )
    assert r"\delta_1 = \gamma_1 \odot \partial\mathcal{L}/\partial S_1" in rows
    assert check_shapes_against_the_engine(model, batch=3) > 15
