"""The guard: a constructed bad draw for each reason is rejected, a good one passes."""

from __future__ import annotations

import pytest

from chainrule.classroom.wellposed import GuardSettings, Rejections, reasons
from chainrule.explain import compute, parse_spec
from chainrule.explain.paths import Parameter

GUARD = GuardSettings()


def _spec(W1, b1, activation="relu", out="sigmoid", x=(0.5, -0.3), W2=((0.5, -0.4),), **extra):
    raw = {
        "input": list(x),
        "target": [0.5] * len(W2),
        "layers": [
            {"activation": activation, "W": [list(r) for r in W1], "b": list(b1)},
            {"activation": out, "W": [list(r) for r in W2]},
        ],
        "loss": "mse",
        "optimizer": {"name": "gd", "learning_rate": 0.1},
        **extra,
    }
    return parse_spec(raw)


def _reasons(spec, asked=()):
    return reasons(compute(spec), list(asked), GUARD)


def test_a_good_draw_passes():
    spec = _spec([[0.4, 0.2], [0.6, -0.5]], [0.1, 0.1])
    assert _reasons(spec, [Parameter("W", 2, 1, 1)]) == []


def test_relu_on_its_kink():
    # z1[1] = 0.2*0.5 + 0*(-0.3) - 0.1 = 0
    assert "kink" in _reasons(_spec([[0.2, 0.0], [0.6, -0.5]], [-0.1, 0.1]))
    # within the margin counts too
    assert "kink" in _reasons(_spec([[0.2, 0.0], [0.6, -0.5]], [-0.08, 0.1]))


def test_leaky_relu_on_its_kink():
    spec = _spec([[0.2, 0.0], [0.6, -0.5]], [-0.1, 0.1], activation="leaky_relu")
    assert "kink" in _reasons(spec)


def test_a_dead_relu_layer():
    assert _reasons(_spec([[-0.4, 0.2], [-0.6, 0.5]], [-0.1, -0.1]))[0] == "dead"


def test_a_saturated_sigmoid_and_tanh():
    assert "saturated" in _reasons(_spec([[4.0, -4.0], [0.6, -0.5]], [2.0, 0.1], "sigmoid"))
    assert "saturated" in _reasons(_spec([[4.0, -4.0], [0.6, -0.5]], [2.0, 0.1], "tanh"))


def test_two_softmax_outputs_tied():
    raw = dict(
        out="softmax",
        W2=((0.3, 0.3), (0.3, 0.3)),
        loss="categorical_crossentropy",
    )
    spec = parse_spec(
        {
            "input": [0.5, -0.3],
            "target": [1, 0],
            "layers": [
                {"activation": "relu", "W": [[0.4, 0.2], [0.6, -0.5]], "b": [0.1, 0.1]},
                {"activation": raw["out"], "W": [list(r) for r in raw["W2"]]},
            ],
            "loss": raw["loss"],
            "optimizer": {"name": "gd", "learning_rate": 0.1},
        }
    )
    assert _reasons(spec) == ["softmax_tie"]


def test_a_gradient_swamped_by_rounding():
    # a tiny weight into the output makes dL/dW1[1,1] ~ 1e-5: rounding to 4 decimals swamps it
    spec = _spec([[0.4, 0.2], [0.6, -0.5]], [0.1, 0.1], W2=((0.001, -0.4),))
    step = compute(spec).steps[0]
    assert 0 < abs(step.dW[0][0, 0]) < 1e-4
    assert _reasons(spec, [Parameter("W", 1, 1, 1)]) == ["swamped"]
    assert _reasons(spec, [Parameter("W", 2, 1, 1)]) == []  # a gradient not asked is no matter
    loose = GuardSettings(decimals=8)
    assert reasons(compute(spec), [Parameter("W", 1, 1, 1)], loose) == []


def test_rejections_describe_their_counts():
    counted = Rejections(kink=3, dead=1)
    assert counted.describe() == (
        "4 draws rejected: 1 a ReLU layer dead (every z <= 0), 3 a ReLU pre-activation near its "
        "kink at 0"
    )
    assert Rejections().describe() == "0 draws rejected"


def test_bad_guard_settings():
    with pytest.raises(ValueError, match="margin"):
        GuardSettings(margin=-1)
    with pytest.raises(ValueError, match="answer decimals"):
        GuardSettings(decimals=0)


def _conv(image, kernel, bias=0.0, activation="relu"):
    rows, columns = len(image) - len(kernel) + 1, len(image[0]) - len(kernel[0]) + 1
    pooled = (rows // 2) * (columns // 2)
    raw = {
        "input": image,
        "target": [0, 1],
        "layers": [
            {"type": "conv2d", "activation": activation, "W": kernel, "b": [bias]},
            {"type": "max_pool2d", "pool_size": 2},
            "flatten",
            {"activation": "softmax", "W": [[0.3] * pooled, [-0.2] * pooled]},
        ],
        "loss": "categorical_crossentropy",
        "optimizer": {"name": "gd", "learning_rate": 0.1},
    }
    return parse_spec(raw)


IMAGE = [[0.2, 0.5, 0.1], [0.4, 0.9, 0.6], [0.0, 0.3, 0.8]]


def test_a_good_conv_draw_passes():
    # z1 = x[:2, :2] + 0.1 = [[0.3, 0.6], [0.5, 1.0]]: one clear maximum, no pixel near 0
    assert _reasons(_conv(IMAGE, [[1.0, 0.0], [0.0, 0.0]], bias=0.1)) == []


def test_two_maxima_of_a_pooling_window_tie():
    # z1 = [[0.2 + 0.9, 0.5 + 0.6], [0.4 + 0.3, 0.9 + 0.2]] = [[1.1, 1.1], [0.7, 1.1]]
    image = [[0.2, 0.5, 0.1], [0.4, 0.9, 0.6], [0.0, 0.3, 0.2]]
    assert _reasons(_conv(image, [[1.0, 0.0], [0.0, 1.0]])) == ["pool_tie"]


def test_a_conv_pixel_on_the_relu_kink():
    # z1[1,1,1] = 0.2*1 + 0.5*(-1) + 0.3 = 0 (the others are not): on the kink
    assert "kink" in _reasons(_conv(IMAGE, [[1.0, -1.0], [0.0, 0.0]], bias=0.3))
