"""Chain-rule paths: on random networks the paths to every parameter sum to its gradient."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chainrule.explain import compute, explain, parse_spec
from chainrule.explain.paths import PATH_TOLERANCE, parse_parameter
from chainrule.explain.spec import load_spec
from chainrule.reporting.expr import Style

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLASSIC = EXAMPLES / "relu-tanh-sigmoid-mse.yaml"
ACTIVATIONS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "improved_sigmoid", "softmax"]


def random_spec(rng: np.random.Generator) -> dict:
    """Random widths 1-4, activations (softmax included, as output too), losses and batch."""
    depth = int(rng.integers(1, 4))
    widths = [int(rng.integers(1, 5)) for _ in range(depth + 1)]
    loss = str(rng.choice(["mse", "binary_crossentropy", "categorical_crossentropy"]))
    output = str(rng.choice(ACTIVATIONS if loss == "mse" else ["sigmoid", "softmax"]))
    if output == "softmax":
        widths[-1] = max(widths[-1], 2)
    layers = []
    for number in range(1, depth + 1):
        name = output if number == depth else str(rng.choice(ACTIVATIONS))
        if name == "softmax" and widths[number] == 1:
            name = "tanh"
        layers.append(
            {
                "activation": {"name": name, "slope": 0.1} if name == "leaky_relu" else name,
                "W": rng.normal(size=(widths[number], widths[number - 1])).tolist(),
                "b": rng.normal(size=widths[number]).tolist(),
            }
        )
    m, k = int(rng.integers(1, 3)), widths[-1]
    if loss == "categorical_crossentropy":
        target = np.eye(k)[rng.integers(0, k, size=m)]
    elif loss == "binary_crossentropy":
        target = rng.integers(0, 2, size=(m, k)).astype(float)
    else:
        target = rng.normal(size=(m, k))
    return {
        "input": rng.normal(size=(m, widths[0])).tolist(),
        "target": target.tolist(),
        "layers": layers,
        "loss": {"name": loss, "reduction": str(rng.choice(["mean", "sum", "half_sum"]))}
        if loss == "mse"
        else loss,
        "optimizer": {"name": "gd", "learning_rate": 0.1},
        "fuse": bool(rng.integers(0, 2)),
    }


def every_parameter(spec) -> list[str]:
    names = []
    for layer in range(1, spec.n_layers + 1):
        rows, columns = spec.widths[layer], spec.widths[layer - 1]
        names += [f"W{layer}[{j},{k}]" for j in range(1, rows + 1) for k in range(1, columns + 1)]
        names += [f"b{layer}[{j}]" for j in range(1, rows + 1)]
    return names


@pytest.mark.parametrize("seed", range(40))
def test_path_sums_equal_the_gradients_on_random_networks(seed):
    spec = parse_spec(random_spec(np.random.default_rng(seed)))
    record = compute(spec, paths=every_parameter(spec))
    step = record.steps[0]
    assert step.verification.passed
    for path_set in step.paths:
        assert abs(path_set.total - path_set.gradient) <= 1e-10, path_set.parameter.name
        assert path_set.agrees
        # every path is a product of its factors, and the per-example sums average to the total
        for paths, total in zip(path_set.per_example, path_set.sums, strict=True):
            assert total == pytest.approx(sum(p.product for p in paths), abs=1e-15)
        assert path_set.total == pytest.approx(np.mean(path_set.sums), abs=1e-15)


def test_the_classic_W1_1_1_has_four_paths_summing_to_the_gradient():
    record = compute(load_spec(CLASSIC), paths=["W1[1,1]"])
    (path_set,) = record.steps[0].paths
    (paths,) = path_set.per_example
    assert len(paths) == 4  # via a2[1] or a2[2], then a3[1] or a3[2]
    assert path_set.total == pytest.approx(record.steps[0].dW[0][0, 0], abs=PATH_TOLERANCE)
    first = paths[0].factors
    assert [f.symbol.render(Style()) for f in first] == [
        "dL/da3[1]",
        "da3[1]/dz3[1]",
        "dz3[1]/da2[1]",
        "da2[1]/dz2[1]",
        "dz2[1]/da1[1]",
        "da1[1]/dz1[1]",
        "dz1[1]/dW1[1,1]",
    ]
    assert first[-1].value == 0.3 and first[2].value == 0.5  # x[1], then W3[1,1]


def test_softmax_output_unfused_is_crossed_through_every_output():
    raw = {
        "input": [0.5, -0.2],
        "target": [0, 1, 0],
        "layers": [
            {"activation": "tanh", "W": [[0.1, 0.2], [0.3, -0.4]], "b": [0, 0]},
            {"activation": "softmax", "W": [[0.5, -0.5], [0.2, 0.1], [-0.3, 0.4]], "b": [0, 0, 0]},
        ],
        "loss": "categorical_crossentropy",
        "optimizer": {"name": "gd", "learning_rate": 0.1},
        "fuse": False,
    }
    record = compute(parse_spec(raw), paths=["W1[1,1]"])
    (paths,) = record.steps[0].paths[0].per_example
    assert len(paths) == 3 * 3  # z2[k] for k = 1..3, each reaching L through a2[1..3]
    raw["fuse"] = True
    fused = compute(parse_spec(raw), paths=["W1[1,1]"])
    (fused_paths,) = fused.steps[0].paths[0].per_example
    assert len(fused_paths) == 3  # paths start at dL/dz2[k]
    assert fused_paths[0].factors[0].symbol.render(Style()) == "dL/dz2[1]"
    assert fused.steps[0].paths[0].total == pytest.approx(record.steps[0].paths[0].total, abs=1e-12)


def test_paths_are_printed_with_their_sum():
    text = explain(CLASSIC, paths=["W1[1,1]", "b3[2]"])
    assert "Paths from L to W1[1,1]" in text and "Paths from L to b3[2]" in text
    assert "dL/dW1[1,1] = path 1 + path 2 + path 3 + path 4" in text
    assert "the sum of the paths agrees with it" in text and "DISAGREES" not in text
    fused = explain(EXAMPLES / "softmax-categorical-crossentropy.yaml", paths=["W1[1,2]"])
    assert "fused with the cross-entropy, so paths start at dL/dz2[j] = δ2[j]" in fused


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("W9[1,1]", "the network has 3 layers, so W1 to W3; there is no W9"),
        ("W1[5,1]", "layer 1: W1 is 3×3 (rows = output neurons 1..3, columns = inputs 1..3)"),
        ("W3[1,3]", "layer 3: W3 is 2×2"),
        ("W1[0,1]", "[0,1] is out of range"),
        ("b2[3]", "layer 2: b2 has 2 values (1..2); [3] is out of range"),
        ("W1[1]", "a weight needs two indices"),
        ("b1[1,1]", "a bias has one index"),
        ("w1(1,1)", "write a weight as W<layer>[<row>,<column>]"),
    ],
)
def test_unknown_parameters_name_the_layer_and_the_shape(text, message):
    spec = load_spec(CLASSIC)
    with pytest.raises(ValueError, match=None) as error:
        parse_parameter(text, spec)
    assert message in str(error.value)
    with pytest.raises(ValueError):
        explain(CLASSIC, paths=[text])


def test_parameter_spelling_is_forgiving_about_spaces():
    spec = load_spec(CLASSIC)
    assert parse_parameter(" W2[ 1 , 3 ] ", spec).name == "W2[1,3]"
