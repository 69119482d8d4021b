"""The worked example's numbers, checked against a reference written here in plain NumPy.

The reference below shares no code with chainrule: each activation, its Jacobian, each loss
and its dL/da, and the GD / momentum / Adam updates are written out from the formulas. The
tests compare the structured record with it, and every number the text output prints with it
(parsed from the output, at the digits asked for).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml

from chainrule.explain import compute, explain, parse_spec, render
from chainrule.explain.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLASSIC = EXAMPLES / "relu-tanh-sigmoid-mse.yaml"
BCE = EXAMPLES / "sigmoid-binary-crossentropy.yaml"
SOFTMAX = EXAMPLES / "softmax-categorical-crossentropy.yaml"


# -- the reference -----------------------------------------------------------------------------
def activation(name: str, z: np.ndarray, slope: float = 0.01) -> np.ndarray:
    if name == "identity":
        return z.copy()
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "improved_sigmoid":
        return 1.7159 * np.tanh(2 * z / 3)
    e = np.exp(z - z.max())
    return e / e.sum()


def jacobian(name: str, z: np.ndarray, a: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """J[i, j] = da[i]/dz[j], from z (not from the output, as the engine does)."""
    if name == "softmax":
        return np.diag(a) - np.outer(a, a)
    derivative = {
        "identity": lambda: np.ones_like(z),
        "relu": lambda: (z > 0).astype(float),
        "leaky_relu": lambda: np.where(z > 0, 1.0, slope),
        "sigmoid": lambda: np.exp(-z) / (1 + np.exp(-z)) ** 2,
        "tanh": lambda: 1 / np.cosh(z) ** 2,
        "improved_sigmoid": lambda: 1.7159 * (2 / 3) / np.cosh(2 * z / 3) ** 2,
    }[name]()
    return np.diag(derivative)


def loss_and_gradient(name: str, reduction: str, a: np.ndarray, y: np.ndarray):
    """One example's loss and dL/da."""
    k = len(a)
    if name == "mse":
        scale = {"mean": 1 / k, "sum": 1.0, "half_sum": 0.5}[reduction]
        return scale * np.sum((a - y) ** 2), 2 * scale * (a - y)
    if name == "binary_crossentropy":
        value = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
        return value, (-(y / a) + (1 - y) / (1 - a)) / k
    return -np.sum(y * np.log(a)), -y / a


def reference_step(raw: dict, W: list, b: list) -> dict:
    """Forward, loss, backward and mean gradients of one step of the spec ``raw``."""
    x_all = np.atleast_2d(np.array(raw["input"], dtype=float))
    y_all = np.atleast_2d(np.array(raw["target"], dtype=float))
    loss_spec = raw["loss"] if isinstance(raw["loss"], dict) else {"name": raw["loss"]}
    name, reduction = loss_spec["name"], loss_spec.get("reduction", "mean")
    acts = []
    for layer in raw["layers"]:
        spec = layer["activation"]
        acts.append((spec, 0.01) if isinstance(spec, str) else (spec["name"], spec["slope"]))
    result = defaultdict(list)
    for x, y in zip(x_all, y_all, strict=True):
        zs, as_ = [], []
        a = x
        for (act, slope), Wl, bl in zip(acts, W, b, strict=True):
            z = Wl @ a + bl
            a = activation(act, z, slope)
            zs.append(z)
            as_.append(a)
        value, dL_da = loss_and_gradient(name, reduction, as_[-1], y)
        deltas = [None] * len(W)
        upstream = dL_da
        dL_das = [None] * len(W)
        locals_ = [None] * len(W)
        for i in reversed(range(len(W))):
            J = jacobian(acts[i][0], zs[i], as_[i], acts[i][1])
            dL_das[i], locals_[i] = upstream, J
            deltas[i] = J.T @ upstream
            upstream = W[i].T @ deltas[i]
        inputs = [x, *as_[:-1]]
        result["z"].append(zs)
        result["a"].append(as_)
        result["loss"].append(value)
        result["delta"].append(deltas)
        result["dL_da"].append(dL_das)
        result["local"].append(locals_)
        result["dW"].append([np.outer(d, a_in) for d, a_in in zip(deltas, inputs, strict=True)])
        result["db"].append(deltas)
    m = len(x_all)
    result["mean_loss"] = float(np.mean(result["loss"]))
    result["mean_dW"] = [sum(e[i] for e in result["dW"]) / m for i in range(len(W))]
    result["mean_db"] = [sum(e[i] for e in result["db"]) / m for i in range(len(W))]
    return result


def load_raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def initial_parameters(raw: dict) -> tuple[list, list]:
    W = [np.array(layer["W"], dtype=float) for layer in raw["layers"]]
    b = [np.array(layer.get("b", [0.0] * len(layer["W"])), dtype=float) for layer in raw["layers"]]
    return W, b


# -- reading the printed numbers ---------------------------------------------------------------
def printed_values(text: str) -> dict[str, list[str]]:
    """lhs -> the final value of each equation printed for it, in order of appearance."""
    merged: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("= ") and merged:
            merged[-1] += " " + stripped
        else:
            merged.append(stripped)
    values: dict[str, list[str]] = defaultdict(list)
    for line in merged:
        cuts = [i for i in (line.find(" = "), line.find(" ← ")) if i > 0]
        if not cuts or (" " in line[: min(cuts)].strip() and not line.startswith("path ")):
            continue
        lhs = line[: min(cuts)].strip()
        value = line.rsplit(" = ", 1)[1].strip()
        if re.fullmatch(r"-?\d+(\.\d+)?(e[-+]\d+)?", value):  # a formula line has no value
            values[lhs].append(value)
    return values


def shown(value: float, digits: int = 4) -> str:
    text = f"{value:.{digits}g}"
    return "0" if text == "-0" else text


def assert_printed(values: dict, lhs: str, expected: float, digits: int = 4, occurrence: int = 0):
    assert lhs in values, f"{lhs} not printed"
    assert values[lhs][occurrence] == shown(expected, digits), (lhs, values[lhs], expected)


def assert_update_printed(values: dict, lhs: str, new: float, old: float, occurrence: int = 0):
    """An updated value: printed close enough that its change from ``old`` is readable."""
    text = values[lhs][occurrence]
    assert abs(float(text) - new) <= 1e-3 * abs(new - old) + 1e-15, (lhs, text, new, old)


# -- the classic example -----------------------------------------------------------------------
def test_classic_first_neuron_line_is_exactly_the_textbook_line():
    text = explain(CLASSIC)
    lines = [line.strip() for line in text.splitlines()]
    assert "a1[1] = ReLU(0.3*0.1 + 0.5*0.2 + 0.8*0.2 + 0.2) = ReLU(0.49) = 0.49" in lines


def test_classic_every_printed_number_matches_the_reference():
    raw = load_raw(CLASSIC)
    W, b = initial_parameters(raw)
    ref = reference_step(raw, W, b)
    record = compute(load_spec(CLASSIC), source=str(CLASSIC))
    step = record.steps[0]
    values = printed_values(render(record))
    names = {1: "ReLU", 2: "tanh", 3: "sigmoid"}
    for layer in (1, 2, 3):
        i = layer - 1
        np.testing.assert_allclose(step.examples[0].a[i], ref["a"][0][i], rtol=1e-14)
        np.testing.assert_allclose(step.examples[0].delta[i], ref["delta"][0][i], rtol=1e-12)
        np.testing.assert_allclose(step.dW[i], ref["mean_dW"][i], rtol=1e-12, atol=1e-18)
        for j in range(len(W[i])):
            assert_printed(values, f"a{layer}[{j + 1}]", ref["a"][0][i][j])
            assert_printed(values, f"dL/da{layer}[{j + 1}]", ref["dL_da"][0][i][j])
            assert_printed(values, f"{names[layer]}'(z{layer}[{j + 1}])", ref["local"][0][i][j, j])
            assert_printed(values, f"δ{layer}[{j + 1}]", ref["delta"][0][i][j])
            assert_printed(values, f"dL/db{layer}[{j + 1}]", ref["mean_db"][i][j])
            for k in range(W[i].shape[1]):
                gradient = ref["mean_dW"][i][j, k]
                assert_printed(values, f"dL/dW{layer}[{j + 1},{k + 1}]", gradient)
                new = W[i][j, k] - 0.01 * gradient  # one GD step, lr 0.01
                np.testing.assert_allclose(step.W_new[i][j, k], new, rtol=1e-15)
                assert_update_printed(values, f"W{layer}[{j + 1},{k + 1}]", new, W[i][j, k])
        np.testing.assert_array_equal(step.b_new[i], b[i])  # biases frozen
        assert f"b{layer}[1]" not in values  # and no update line for them
    assert_printed(values, "L", ref["mean_loss"])
    assert step.loss == pytest.approx(ref["mean_loss"], rel=1e-14)


def test_classic_numbers_quoted_in_the_report():
    record = compute(load_spec(CLASSIC))
    step = record.steps[0]
    assert step.loss == pytest.approx(0.021753459564985, rel=1e-12)
    expected_dW1 = [
        [-4.70478141e-04, -7.84130235e-04, -1.25460838e-03],
        [1.87882548e-04, 3.13137579e-04, 5.01020127e-04],
        [2.66198576e-05, 4.43664294e-05, 7.09862870e-05],
    ]
    np.testing.assert_allclose(step.dW[0], expected_dW1, rtol=1e-8)


def test_digits_option_changes_only_the_display():
    text = explain(CLASSIC, digits=7)
    values = printed_values(text)
    raw = load_raw(CLASSIC)
    ref = reference_step(raw, *initial_parameters(raw))
    assert_printed(values, "a2[1]", ref["a"][0][1][0], digits=7)
    assert_printed(values, "dL/dW1[1,1]", ref["mean_dW"][0][0, 0], digits=7)
    assert "rounded to 7 significant digits" in text


def test_layout_line_and_verification_are_printed():
    text = explain(CLASSIC)
    assert "Layout: textbook. W_l has one row per output neuron" in text
    assert "z_l = W_l a_(l-1) + b_l" in text and "stores the transpose" in text
    assert "gives gradients that agree with the ones above" in text
    assert "Finite differences" in text and "DISAGREE" not in text
    assert "L = (1/2) Σ_j (a3[j] - y[j])^2" in text  # the convention written out


# -- the other two examples: more steps, momentum and Adam -------------------------------------
def momentum_steps(raw: dict, steps: int) -> list[dict]:
    W, b = initial_parameters(raw)
    lr, mu = raw["optimizer"]["learning_rate"], raw["optimizer"]["momentum"]
    vW = [np.zeros_like(w) for w in W]
    vb = [np.zeros_like(v) for v in b]
    refs = []
    for _ in range(steps):
        ref = reference_step(raw, W, b)
        refs.append(ref)
        for i in range(len(W)):
            vW[i] = mu * vW[i] + ref["mean_dW"][i]
            vb[i] = mu * vb[i] + ref["mean_db"][i]
            W[i] = W[i] - lr * vW[i]
            b[i] = b[i] - lr * vb[i]
        ref["W_new"], ref["b_new"] = [w.copy() for w in W], [v.copy() for v in b]
    return refs


def test_sigmoid_bce_two_momentum_steps_match_the_reference():
    raw = load_raw(BCE)
    refs = momentum_steps(raw, 2)
    record = compute(load_spec(BCE))
    text = render(record)
    assert record.spec.fused and len(record.steps) == 2
    step_2 = text.split("STEP 2 OF 2")[1]
    values_2 = printed_values(step_2)
    for ref, step in zip(refs, record.steps, strict=True):
        assert step.loss == pytest.approx(ref["mean_loss"], rel=1e-13)
        for i in range(2):
            np.testing.assert_allclose(step.dW[i], ref["mean_dW"][i], rtol=1e-12)
            np.testing.assert_allclose(step.W_new[i], ref["W_new"][i], rtol=1e-14)
            np.testing.assert_allclose(step.b_new[i], ref["b_new"][i], rtol=1e-14)
        assert step.verification.passed
    # step 2 runs forward with the weights after step 1
    assert_printed(values_2, "a1[1]", refs[1]["a"][0][0][0])
    assert_printed(values_2, "a2[1]", refs[1]["a"][0][1][0])
    assert_printed(values_2, "δ2[1]", refs[1]["delta"][0][1][0])  # fused: a - y
    assert_printed(values_2, "dL/dW1[2,2]", refs[1]["mean_dW"][0][1, 1])
    assert_printed(
        values_2, "v(W1[1,1])", 0.9 * refs[0]["mean_dW"][0][0, 0] + refs[1]["mean_dW"][0][0, 0]
    )
    assert "sigmoid + binary cross-entropy, fused as the engine does" in text
    assert record.final_loss < record.steps[0].loss


def test_softmax_ce_adam_step_matches_the_reference():
    raw = load_raw(SOFTMAX)
    W, b = initial_parameters(raw)
    ref = reference_step(raw, W, b)
    record = compute(load_spec(SOFTMAX))
    values = printed_values(render(record))
    step = record.steps[0]
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
    for i in range(2):
        for theta, g, new in (
            (W[i], ref["mean_dW"][i], step.W_new[i]),
            (b[i], ref["mean_db"][i], step.b_new[i]),
        ):
            m = (1 - beta1) * g
            v = (1 - beta2) * g**2
            expected = theta - lr * (m / (1 - beta1)) / (np.sqrt(v / (1 - beta2)) + eps)
            np.testing.assert_allclose(new, expected, rtol=1e-13, atol=1e-16)
    g = ref["mean_dW"][0][0, 0]
    assert_printed(values, "m(W1[1,1])", (1 - beta1) * g)
    assert_printed(values, "v(W1[1,1])", (1 - beta2) * g**2)
    assert_printed(values, "m_hat(W1[1,1])", g)
    for j in range(3):
        assert_printed(values, f"a2[{j + 1}]", ref["a"][0][1][j])
        assert_printed(values, f"δ2[{j + 1}]", ref["delta"][0][1][j])
    assert_printed(values, "L", ref["mean_loss"])


# -- variations: unfused, batches, every activation and loss ---------------------------------
def test_unfused_softmax_goes_through_the_jacobian_and_gives_the_same_gradients():
    raw = load_raw(SOFTMAX)
    fused = compute(parse_spec(raw))
    raw["fuse"] = False
    unfused = compute(parse_spec(raw))
    for i in range(2):
        np.testing.assert_allclose(unfused.steps[0].dW[i], fused.steps[0].dW[i], rtol=1e-12)
    jac = unfused.steps[0].examples[0].local[1]
    a = unfused.steps[0].examples[0].a[1]
    np.testing.assert_allclose(jac, np.diag(a) - np.outer(a, a), rtol=1e-14)
    values = printed_values(render(unfused))
    assert_printed(values, "da2[1]/dz2[2]", -a[0] * a[1])
    assert_printed(values, "dL/da2[2]", -1 / a[1])
    assert unfused.steps[0].verification.passed


@pytest.mark.parametrize(
    ("activations", "loss"),
    [
        (["leaky_relu", "improved_sigmoid", "identity"], {"name": "mse", "reduction": "sum"}),
        (["softmax", "tanh", "sigmoid"], {"name": "mse", "reduction": "half_sum"}),
        (["sigmoid", "relu", "sigmoid"], {"name": "binary_crossentropy"}),
        (["improved_sigmoid", "softmax", "softmax"], {"name": "categorical_crossentropy"}),
    ],
)
@pytest.mark.parametrize("fuse", [True, False])
def test_batches_and_every_activation_match_the_reference(activations, loss, fuse):
    rng = np.random.default_rng(len(activations[0]) + 7 * fuse)
    widths = [3, 4, 2, 3]
    layers = []
    for number, name in enumerate(activations, start=1):
        act = {"name": "leaky_relu", "slope": 0.2} if name == "leaky_relu" else name
        layers.append(
            {
                "activation": act,
                "W": rng.normal(size=(widths[number], widths[number - 1])).tolist(),
                "b": rng.normal(size=widths[number]).tolist(),
            }
        )
    if loss["name"] == "categorical_crossentropy":
        target = [[0, 0, 1], [1, 0, 0]]
    elif loss["name"] == "binary_crossentropy":
        target = [[1, 0, 1], [0, 0, 1]]
    else:
        target = rng.normal(size=(2, 3)).tolist()
    raw = {
        "input": rng.normal(size=(2, 3)).tolist(),
        "target": target,
        "layers": layers,
        "loss": loss,
        "optimizer": {"name": "gd", "learning_rate": 0.1},
        "fuse": fuse,
    }
    record = compute(parse_spec(raw))
    ref = reference_step(raw, *initial_parameters(raw))
    step = record.steps[0]
    assert step.loss == pytest.approx(ref["mean_loss"], rel=1e-12)
    for i in range(3):
        np.testing.assert_allclose(step.dW[i], ref["mean_dW"][i], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(step.db[i], ref["mean_db"][i], rtol=1e-10, atol=1e-14)
        for e in range(2):
            np.testing.assert_allclose(step.examples[e].a[i], ref["a"][e][i], rtol=1e-13)
    assert step.verification.passed
    values = printed_values(render(record))
    assert_printed(values, "L", ref["mean_loss"])
    assert_printed(values, "L[2]", ref["loss"][1])
    assert_printed(values, "dL/dW2[1,1]", ref["mean_dW"][1][0, 0])
    assert_printed(values, "dL/db3[2]", ref["mean_db"][2][1])


def test_frozen_weights_stay_and_named_tensors_can_be_frozen():
    raw = load_raw(CLASSIC)
    raw["update"] = {"biases": True, "freeze": ["W2"]}
    record = compute(parse_spec(raw))
    step = record.steps[0]
    W, b = initial_parameters(raw)
    np.testing.assert_array_equal(step.W_new[1], W[1])
    assert not np.array_equal(step.W_new[0], W[0])
    assert not np.array_equal(step.b_new[2], b[2])
    text = render(record)
    assert "Frozen (not updated): W2." in text
    assert "W2[1,1] ←" not in text and "b2[1] ←" in text


def test_nothing_trainable_is_allowed():
    raw = load_raw(CLASSIC)
    raw["update"] = {"biases": False, "weights": False}
    record = compute(parse_spec(raw))
    np.testing.assert_array_equal(record.final_W[0], initial_parameters(raw)[0][0])
    assert record.final_loss == pytest.approx(record.steps[0].loss, rel=0, abs=0)


def test_change_digits_show_an_update_smaller_than_the_rounding():
    text = explain(CLASSIC)
    assert "0.1 - 0.01*(-0.0004705) = 0.100004705" in text
    after = re.search(r"L =\s+(\S+) \(change", text).group(1)
    assert not math.isnan(float(after))
