"""One student's exercise: drawn until well posed, solved by explain, regenerated from the id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from chainrule.classroom.assignment import ExerciseSettings, asked_parameters, make_variant
from chainrule.classroom.variants import DrawSettings
from chainrule.classroom.wellposed import REASONS, GuardSettings, Rejections

CLASSIC = yaml.safe_load(
    (Path(__file__).parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml").read_text()
)


def test_the_key_is_regenerated_from_the_student_id_alone():
    settings = ExerciseSettings(draw=DrawSettings(seed=11))
    first = make_variant(CLASSIC, "alice", settings)
    again = make_variant(CLASSIC, "alice", settings)
    assert first.raw == again.raw and first.variant_id == again.variant_id
    assert np.array_equal(first.record.steps[0].dW[0], again.record.steps[0].dW[0])
    assert make_variant(CLASSIC, "bob", settings).raw != first.raw


def test_rejected_draws_are_counted_by_reason_and_the_variant_is_well_posed():
    settings = ExerciseSettings(draw=DrawSettings(seed=3))
    counted = Rejections()
    for i in range(12):
        counted.update(make_variant(CLASSIC, f"s{i}", settings).rejections)
    assert counted and set(counted) <= set(REASONS)  # random draws do break the rules
    variant = make_variant(CLASSIC, "s1", settings)
    assert variant.draw == sum(variant.rejections.values())
    for layer, z in zip(variant.spec.layers, variant.record.steps[0].examples[0].z, strict=True):
        if layer.activation_name == "relu":
            assert np.all(np.abs(z) >= settings.guard.margin)


def test_an_impossible_guard_gives_up_naming_the_reasons():
    settings = ExerciseSettings(guard=GuardSettings(margin=100.0), max_draws=5)
    with pytest.raises(ValueError, match="no well-posed draw for 'alice' in 5 tries"):
        make_variant(CLASSIC, "alice", settings)


def test_the_asked_gradients_are_the_trained_tensors_or_the_named_weights():
    variant = make_variant(CLASSIC, "alice", ExerciseSettings())
    names = [p.name for p in asked_parameters(variant.spec, ExerciseSettings())]
    assert len(names) == 9 + 6 + 4 and "b1[1]" not in names  # the template freezes biases
    named = ExerciseSettings(weights=("W1[1,1]", "b2[1]"))
    assert [p.name for p in asked_parameters(variant.spec, named)] == ["W1[1,1]", "b2[1]"]


def test_bad_tasks_are_refused():
    with pytest.raises(ValueError, match="tasks must name"):
        ExerciseSettings(tasks=("forwards",))
    with pytest.raises(ValueError, match="paths task needs a named weight"):
        ExerciseSettings(tasks=("paths",))


def test_a_conv_variant_is_well_posed_and_regenerated_from_the_id():
    from chainrule.classroom.conv_math import windows
    from chainrule.explain.conv_steps import Geometry

    path = Path(__file__).parents[2] / "examples" / "conv-maxpool-dense-softmax.yaml"
    template = yaml.safe_load(path.read_text())
    settings = ExerciseSettings()
    for student in ("ada", "bo", "cy"):
        variant = make_variant(template, student, settings)
        again = make_variant(template, student, settings)
        assert variant.raw == again.raw and variant.draw == again.draw
        example = variant.record.steps[0].examples[0]
        assert np.min(np.abs(example.z[0])) >= settings.guard.margin  # no ReLU kink
        pool = Geometry(variant.spec.engine_layers()[1])
        ordered = np.sort(windows(example.a[0], pool), axis=-1)
        assert np.min(ordered[..., -1] - ordered[..., -2]) >= settings.guard.tie  # no tie
        assert variant.tasks == settings.tasks and "dx" in variant.tasks
        assert len(variant.asked) == 8 + 2 + 16 + 2  # W1, b1, W4, b4
