"""The sheet gives the problem and no answer; the key is explain's worked solution."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from chainrule.classroom.assignment import ExerciseSettings, make_variant
from chainrule.classroom.sheets import (
    BLANK,
    answers,
    answers_file,
    given_values,
    key_document,
    sheet_document,
)
from chainrule.reporting.expr import format_number
from chainrule.reporting.formats import render

CLASSIC = yaml.safe_load(
    (Path(__file__).parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml").read_text()
)
ALL_TASKS = ExerciseSettings(
    tasks=("forward", "loss", "deltas", "gradients", "update", "paths"), weights=("W1[1,1]",)
)


@pytest.fixture(scope="module")
def variant():
    return make_variant(CLASSIC, "alice", ExerciseSettings())


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text))


def _significant(token: str) -> int:
    return len(token.split("e")[0].lstrip("-").replace(".", "").lstrip("0"))


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_none_of_the_keys_numbers_appear_on_the_sheet(variant, fmt):
    sheet = render(sheet_document(variant), fmt)
    key = render(key_document(variant, fmt), fmt)
    on_sheet, in_key = _numbers(sheet), _numbers(key)
    # every computed number the key shows (3 or more significant digits: the givens have 1)
    computed = {token for token in in_key if _significant(token) >= 3}
    assert len(computed) > 20
    assert not computed & on_sheet
    givens = {format_number(value, 4) for value in given_values(variant)}
    for name, value in answers(variant).items():
        shown = format_number(value, 4)
        if shown in givens or float(value).is_integer():
            continue  # shown as a given one is (a weight barely changed, a zero): says nothing
        assert shown not in on_sheet, name


def test_the_sheet_carries_no_engine_prose(variant):
    sheet = render(sheet_document(variant), "markdown")
    for prose in ("Computed in float64", "Spec:", "chainrule", "engine", "transpose"):
        assert prose not in sheet
    assert "biases are frozen" in sheet  # the template's convention, printed
    assert "reduction: mean" in sheet
    assert "rounded to 4 decimal places" in sheet


def test_every_asked_quantity_has_a_blank_in_its_task():
    variant = make_variant(CLASSIC, "bob", ALL_TASKS)
    sheet = render(sheet_document(variant), "markdown")
    names = answers(variant)
    for name in names:
        assert f"| {name} | {BLANK} |" in sheet
    assert list(names)[:2] == ["z1[1]", "a1[1]"] and "L" in names and "δ3[1]" in names
    assert "dL/dW1[1,1]" in names and "W1[1,1]" in names
    assert "6. Chain-rule paths" in sheet


def test_the_key_is_the_worked_example_and_the_answers_file_is_json(variant):
    key = render(key_document(variant, "markdown"), "markdown")
    assert "Answer key. Student: alice" in key and "Verification" in key
    data = json.loads(json.dumps(answers_file(variant, seed=0)))
    assert data["student"] == "alice" and data["variant"] == variant.variant_id
    assert data["spec"]["layers"][0]["W"] == variant.raw["layers"][0]["W"]
    step = variant.record.steps[0]
    assert data["answers"]["dL/dW2[1,1]"] == pytest.approx(step.dW[1][0, 0])
    assert data["answers"]["L"] == pytest.approx(step.loss)


def test_batches_and_steps_qualify_the_names():
    raw = dict(CLASSIC, input=[[0.3, 0.5, 0.8], [0.1, 0.2, 0.3]], target=[[0.5, 0.8], [0.2, 0.1]])
    raw["steps"] = 2
    names = answers(make_variant(raw, "carol", ExerciseSettings()))
    assert "step 1: z1[1] (example 2)" in names and "step 2: L" in names
