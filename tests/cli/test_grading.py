"""`chainrule check`: exit 0 all right, 1 some wrong, 2 bad input (one line)."""

import json
from pathlib import Path

import pytest

from chainrule.cli.command import CommandError
from chainrule.cli.grading import parse_weights
from chainrule.cli.main import main

CLASSIC = str(Path(__file__).resolve().parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml")


def answers(tmp_path, text, name="ada.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_all_right_exits_0(tmp_path, capsys):
    assert main(["check", CLASSIC, answers(tmp_path, "a3[1]: 0.673\nL: 0.0218\n")]) == 0
    out = capsys.readouterr().out
    assert "2 right, 0 follow from an earlier value of yours, 0 wrong" in out


def test_some_wrong_exits_1_with_the_first_wrong_step(tmp_path, capsys):
    path = answers(tmp_path, "a3[1]: 0.673\ndL/da3[1]: 0.346\n")
    assert main(["check", CLASSIC, path, "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert "| dL/da3[1] | 0.346 | 0.1732 | wrong: loss convention factor |" in out


def test_json_and_rtol(tmp_path, capsys):
    path = answers(tmp_path, "a3[1]: 0.674\n")
    assert main(["check", CLASSIC, path, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["counts"]["wrong"] == 1
    assert main(["check", CLASSIC, path, "--rtol", "0.01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rtol"] == 0.01


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dL/dW9[1,1]: 0.1\n", "unknown quantity 'dL/dW9[1,1]'; closest: "),
        ("a3[1]: zero\n", "'zero' is not a number"),
        ("a3[1]: [\n", "not valid YAML"),
    ],
)
def test_bad_input_exits_2_in_one_line(tmp_path, capsys, text, message):
    assert main(["check", CLASSIC, answers(tmp_path, text)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chainrule check: error: ") and message in err
    assert "\n" not in err


def test_missing_answers_and_misused_options(tmp_path, capsys):
    assert main(["check", CLASSIC, str(tmp_path / "none.yaml")]) == 2
    assert "answers file not found" in capsys.readouterr().err
    assert main(["check", CLASSIC]) == 2
    assert main(["check", CLASSIC, "--class", str(tmp_path)]) == 2
    assert "--class needs --out" in capsys.readouterr().err


def test_class_mode(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    answers(folder, "a3[1]: 0.673\ndL/da3[1]: 0.346\n", "bob.yaml")
    answers(folder, "a3[1]: 0.673\n", "ada.yaml")
    out = tmp_path / "out"
    code = main(["check", CLASSIC, "--class", str(folder), "--out", str(out), "--weights",
                 "follows=0.75"])  # fmt: skip
    assert code == 1
    assert "1 × loss convention factor" in capsys.readouterr().out
    assert (out / "grades.csv").is_file() and (out / "feedback" / "bob.html").is_file()


def test_weights_option():
    assert parse_weights("follows=0.75, wrong=0") == {"follows": 0.75, "wrong": 0.0}
    with pytest.raises(CommandError, match="VERDICT=CREDIT"):
        parse_weights("follows")


def test_a_conv_spec_names_a_convolution_mistake(tmp_path, capsys):
    import numpy as np

    from chainrule.classroom import Grader

    spec = str(Path(CLASSIC).parent / "conv-stride2-padded.yaml")  # 3x3 kernel, stride 2, pad 1
    grader = Grader(spec)
    delta = np.array([[grader.expected[f"δ1[1,{i},{j}]"] for j in (1, 2, 3)] for i in (1, 2, 3)])
    W = grader.chain.parameters.W[0][0, 0]
    # dL/dx with the kernel unflipped: each δ[i,j] scatters W[2-p, 2-q] onto the padded 7x7
    padded = np.zeros((7, 7))
    for i, j, p, q in np.ndindex(3, 3, 3, 3):
        padded[2 * i + p, 2 * j + q] += delta[i, j] * W[2 - p, 2 - q]
    wrong = padded[1:6, 1:6]
    lines = [f"δ1[1,{i + 1},{j + 1}]: {delta[i, j]:.4f}" for i, j in np.ndindex(3, 3)]
    lines += [f"dL/dx[1,{y + 1},{x + 1}]: {wrong[y, x]:.4f}" for y, x in np.ndindex(5, 5)]
    assert main(["check", spec, answers(tmp_path, "\n".join(lines) + "\n")]) == 1
    out = capsys.readouterr().out
    assert "wrong: kernel not flipped in dx" in out
    assert "padding cropped wrongly" not in out
