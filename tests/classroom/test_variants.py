"""Drawing a student's numbers: hand-friendly, and a pure function of (seed, student id)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from chainrule.classroom.variants import (
    DrawSettings,
    draw_spec,
    hand_friendly,
    template_from_flags,
    variant_id,
    variant_rng,
)
from chainrule.explain import parse_spec

CLASSIC = yaml.safe_load(
    (Path(__file__).parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml").read_text()
)


def test_a_variant_is_a_pure_function_of_seed_and_student():
    settings = DrawSettings(seed=7)
    assert draw_spec(CLASSIC, "alice", settings) == draw_spec(CLASSIC, "alice", settings)
    assert draw_spec(CLASSIC, "alice", settings) != draw_spec(CLASSIC, "bob", settings)
    assert draw_spec(CLASSIC, "alice", settings) != draw_spec(
        CLASSIC, "alice", DrawSettings(seed=8)
    )
    assert variant_id(7, "alice") == variant_id(7, "alice") != variant_id(7, "bob")
    first = variant_rng(7, "alice").integers(0, 10**9, size=4)
    assert np.array_equal(first, variant_rng(7, "alice").integers(0, 10**9, size=4))


def test_values_lie_on_the_decimal_grid_inside_the_range():
    values = hand_friendly(np.random.default_rng(0), (500,), (-0.5, 0.5), 1)
    assert values.min() >= -0.5 and values.max() <= 0.5
    assert np.allclose(values * 10, np.round(values * 10))
    assert len(set(values.tolist())) == 11  # -0.5, -0.4, ..., 0.5 all drawn
    with pytest.raises(ValueError, match="holds no value"):
        hand_friendly(np.random.default_rng(0), (2,), (0.01, 0.02), 1)


def test_only_the_kinds_named_in_vary_change():
    raw = draw_spec(CLASSIC, "alice", DrawSettings(vary=("weights", "inputs")))
    assert raw["target"] == CLASSIC["target"]
    assert [layer["b"] for layer in raw["layers"]] == [layer["b"] for layer in CLASSIC["layers"]]
    assert raw["input"] != CLASSIC["input"]
    assert np.shape(raw["layers"][0]["W"]) == np.shape(CLASSIC["layers"][0]["W"])
    parse_spec(raw)  # still an explain spec


def test_targets_fit_the_loss():
    softmax = template_from_flags([2, 3], ["softmax"], "categorical_crossentropy")
    target = np.asarray(draw_spec(softmax, "s", DrawSettings())["target"])
    assert sorted(target.tolist()) == [0.0, 0.0, 1.0]
    binary = template_from_flags([2, 1], ["sigmoid"], "bce")
    assert draw_spec(binary, "s", DrawSettings())["target"][0] in (0.0, 1.0)


def test_flags_make_a_template_of_the_right_shapes():
    raw = template_from_flags([3, 3, 2, 2], ["relu", "tanh", "sigmoid"], optimizer="gd")
    spec = parse_spec(draw_spec(raw, "s", DrawSettings()))
    assert spec.widths == [3, 3, 2, 2]
    one_output = template_from_flags([2, 2, 1], ["tanh", "sigmoid"])
    assert parse_spec(draw_spec(one_output, "s", DrawSettings())).widths == [2, 2, 1]
    with pytest.raises(ValueError, match="3 layers need 3 activations"):
        template_from_flags([3, 3, 2, 2], ["relu", "tanh"])


def test_bad_settings_name_the_argument():
    with pytest.raises(ValueError, match="vary must name"):
        DrawSettings(vary=("weight",))
    with pytest.raises(ValueError, match="low < high"):
        DrawSettings(ranges={"weights": (1.0, -1.0)})
    with pytest.raises(ValueError, match="decimals"):
        DrawSettings(decimals=-1)


def test_a_conv_template_draws_its_image_kernels_and_target():
    template = yaml.safe_load(
        (Path(__file__).parents[2] / "examples" / "conv-maxpool-dense-softmax.yaml").read_text()
    )
    settings = DrawSettings(seed=3)
    raw = draw_spec(template, "ada", settings)
    assert raw == draw_spec(template, "ada", settings) != draw_spec(template, "bo", settings)
    spec = parse_spec(raw)
    original = parse_spec(template)
    assert spec.input_shape == original.input_shape
    for W, W0, b, b0 in zip(
        spec.weights(), original.weights(), spec.biases(), original.biases(), strict=True
    ):
        assert (W is None) == (W0 is None)
        if W is not None:
            assert W.shape == W0.shape and b.shape == b0.shape
            assert np.allclose(W * 10, np.round(W * 10))
    x = spec.x()
    assert np.allclose(x * 10, np.round(x * 10)) and x.min() >= -1 and x.max() <= 1
    assert sorted(spec.y()[0].tolist()) == [0.0, 1.0]  # one-hot, for softmax + cross-entropy
    assert raw["layers"][1] == template["layers"][1] and raw["layers"][2] == "flatten"
