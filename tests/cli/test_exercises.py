"""`chainrule exercise`: from a template or flags, a folder of variants; mistakes exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from chainrule.cli.command import CommandError
from chainrule.cli.exercises import _names, _ranges
from chainrule.cli.main import main

CLASSIC = Path(__file__).resolve().parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml"
QUICK = ["--no-pdf", "--no-diagram", "--jobs", "1"]


def test_from_flags(tmp_path, capsys):
    out = tmp_path / "hw"
    argv = [
        "exercise",
        "--arch",
        "3-3-2-2",
        "--activations",
        "relu,tanh,sigmoid",
        "--loss",
        "mse",
        "--optimizer",
        "gd",
        "--variants",
        "2",
        "--seed",
        "5",
        "--out",
        str(out),
    ]
    assert main(argv + QUICK) == 0
    printed = capsys.readouterr().out
    assert f"2 variants written to {out}" in printed and "draws rejected" in printed
    rows = list(csv.DictReader((out / "index.csv").open()))
    assert [row["student"] for row in rows] == ["variant-001", "variant-002"]
    sheet = (out / "variant-001" / "sheet.md").read_text()
    assert "biases are trained" in sheet and "3 inputs -> 3 (ReLU)" in sheet


def test_from_a_template_and_a_roster_with_conventions(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nada\nbo\n")
    out = tmp_path / "hw"
    argv = [
        "exercise",
        str(CLASSIC),
        "--students",
        str(roster),
        "--vary",
        "weights,inputs",
        "--tasks",
        "forward,gradients,paths",
        "--weights",
        "W1[1,1],W3[2,1]",
        "--answer-decimals",
        "5",
        "--range",
        "weights=-0.5:0.5",
        "--out",
        str(out),
    ]
    assert main(argv + QUICK) == 0
    data = json.loads((out / "bo" / "answers.json").read_text())
    assert data["tasks"] == ["forward", "gradients", "paths"] and data["decimals"] == 5
    assert data["spec"]["target"] == [0.5, 0.8]  # not varied
    assert all(-0.5 <= w <= 0.5 for row in data["spec"]["layers"][0]["W"] for w in row)
    assert set(name for name in data["answers"] if name.startswith("dL/dW")) == {
        "dL/dW1[1,1]",
        "dL/dW3[2,1]",
    }


CONV_POOLED = CLASSIC.parent / "conv-maxpool-dense-softmax.yaml"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--variants", "2"], "give a SPEC template, or --arch"),
        (
            ["--arch", "3-2", "--activations", "relu", "--variants", "1", "--vary", "weights"],
            "--vary needs a SPEC",
        ),
        ([str(CLASSIC), "--variants", "1", "--tasks", "backward"], "tasks must name"),
        ([str(CLASSIC), "--variants", "1", "--weights", "W9[1,1]"], "there is no W9"),
        ([str(CLASSIC), "--variants", "1", "--weights", "W1[9,1]"], "--weights W1[9,1]: "),
        (
            [str(CONV_POOLED), "--variants", "1", "--weights", "W1[1,1,9,1]"],
            "--weights W1[1,1,9,1]: W1 is 2×1×2×2",
        ),
        ([str(CLASSIC), "--variants", "0"], "--variants must be an integer from 1"),
        ([str(CLASSIC), "--variants", "1", "--range", "weights=a:b"], "KIND=LOW:HIGH"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    assert main(["exercise", *argv, "--out", str(tmp_path / "hw"), *QUICK]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_names_keep_the_commas_inside_brackets():
    assert _names("W1[1,1], b2[1],W3[2,1]") == ["W1[1,1]", "b2[1]", "W3[2,1]"]
    assert _ranges(["weights=-1:0.5"]) == {"weights": (-1.0, 0.5)}
    with pytest.raises(CommandError):
        _ranges(["weights"])


def test_a_conv_spec_template_and_check_of_its_answers(tmp_path, capsys):
    spec = CLASSIC.parent / "conv-maxpool-dense-softmax.yaml"
    out = tmp_path / "conv"
    assert main(["exercise", str(spec), "--variants", "1", "--out", str(out), *QUICK]) == 0
    assert "1 variants written" in capsys.readouterr().out
    folder = out / "variant-001"
    sheet = (folder / "sheet.md").read_text()
    assert "| dL/dx[1,i,j] |" in sheet and "max pool 2×2" in sheet
    assert "(conv 2 filters 2×2, stride 1, ReLU)" in sheet
    key = json.loads((folder / "answers.json").read_text())["answers"]
    right = {name: f"{value:.4f}" for name, value in key.items()}
    answers = tmp_path / "ada.yaml"
    answers.write_text("".join(f"{name}: '{value}'\n" for name, value in right.items()))
    assert main(["check", str(folder / "spec.yaml"), str(answers)]) == 0
    assert f"{len(right)} right, 0 follow" in capsys.readouterr().out
