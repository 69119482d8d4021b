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


# -- convolutional specs ---------------------------------------------------------------------
EXAMPLES = Path(__file__).parents[2] / "examples"
CONV = ["conv-maxpool-dense-softmax.yaml", "conv-stride2-padded.yaml"]


@pytest.fixture(scope="module", params=CONV)
def conv_variant(request):
    template = yaml.safe_load((EXAMPLES / request.param).read_text())
    return make_variant(template, "ada", ExerciseSettings())


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_a_conv_sheet_holds_no_key_value(conv_variant, fmt):
    test_none_of_the_keys_numbers_appear_on_the_sheet(conv_variant, fmt)


def test_a_conv_sheets_blanks_are_names_check_grades(conv_variant):
    from chainrule.classroom import Grader

    key = answers(conv_variant)
    grader = Grader(conv_variant.spec)
    for name, value in key.items():
        assert grader.resolve(name) == name
        assert grader.expected[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    prefixes = {re.sub(r"\d*\[.*", "", name) for name in key}
    assert {"z", "a", "L", "δ", "dL/da", "dL/dx", "dL/dW", "dL/db", "W", "b"} <= prefixes
    sheet = render(sheet_document(conv_variant), "markdown")
    assert sheet.count(BLANK) == len(key)
    assert "Gradient for the image: compute dL/dx" in sheet
    assert "| z1[1,i,j] | col 1 |" in sheet and "| dL/dW1[1,1,p,q] | col 1 |" in sheet
    assert "| dL/dx[1,i,j] | col 1 | col 2 | col 3 | col 4 | col 5 |" in sheet
    assert "the kernel is not flipped" in sheet
    assert "engine" not in sheet and "chainrule" not in sheet


def test_a_few_kernel_entries_asked_are_a_list_not_a_grid_with_holes():
    template = yaml.safe_load((EXAMPLES / CONV[0]).read_text())
    settings = ExerciseSettings(tasks=("gradients",), weights=("W1[1,1,2,2]", "b1[2]"))
    sheet = render(sheet_document(make_variant(template, "ada", settings)), "markdown")
    assert "[1,1,p,q]" not in sheet and "| row 1 |  |" not in sheet
    table = sheet[sheet.index("| quantity | your answer |") :]
    assert f"| dL/dW1[1,1,2,2] | {BLANK} |\n| dL/db1[2] | {BLANK} |" in table
    assert sheet.count(BLANK) == 2
