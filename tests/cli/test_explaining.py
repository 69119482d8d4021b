"""`chainrule derive` and `chainrule graph` on convolutional networks, as a student runs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chainrule.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
RECIPES, EXAMPLES = ROOT / "recipes", ROOT / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_derive_of_a_cnn_recipe_prints_im2col_col2im_and_every_shape(capsys):
    assert main(["derive", str(RECIPES / "cnn-lenet.yaml"), "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("One training step of a convolutional network, 1×28×28 → 10")
    for shape in ("m × 1 × 28 × 28", "32 × 1 × 3 × 3", "m × 288 × 144", "m × 64 × 6 × 6"):
        assert shape in out
    assert re.search(r"∂L/∂P₁ +\= col2im\(∂L/∂X̂₂\)", out)
    assert "θ ← θ − η m̂ ⊘ (√v̂ + ε)" in out  # the recipe's optimizer: Adam


def test_derive_of_a_cnn_recipe_writes_latex_to_a_file(tmp_path, capsys):
    out = tmp_path / "lenet.tex"
    recipe = str(RECIPES / "cnn-small.yaml")
    assert main(["derive", recipe, "--format", "latex", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"written: {out}"
    latex = out.read_text()
    assert latex.count("\\begin{") == latex.count("\\end{") and "im2col" in latex


def test_graph_of_a_cnn_recipe_writes_the_backward_graph(tmp_path, capsys):
    out = tmp_path / "cnn"
    recipe = str(RECIPES / "cnn-small.yaml")
    command = ["graph", recipe, "--backward", "--out", str(out), "--formats", "png,dot"]
    assert main(command) == 0
    written = capsys.readouterr().out.split()
    assert written == [str(tmp_path / "cnn-backward.png"), str(tmp_path / "cnn-backward.dot")]
    assert Path(written[0]).read_bytes().startswith(PNG_SIGNATURE)
    dot = Path(written[1]).read_text(encoding="utf-8")
    assert "routed to the argmax" in dot and "Σₙ · x̂₁ᵀ" in dot


@pytest.mark.parametrize("spec", sorted(EXAMPLES.glob("conv-*.yaml")), ids=lambda p: p.stem)
def test_graph_of_a_conv_spec(tmp_path, capsys, spec):
    command = ["graph", str(spec), "--backward", "--out", str(tmp_path / "g"), "--formats", "dot"]
    assert main(command) == 0
    dot = Path(capsys.readouterr().out.strip()).read_text(encoding="utf-8")
    assert "im2col" in dot and "δ₁ = ∂L/∂z₁" in dot


def test_the_conv_specs_exist_for_the_graph_tests():
    assert len(list(EXAMPLES.glob("conv-*.yaml"))) >= 2


def test_a_network_diagram_of_a_cnn_says_to_draw_the_graph(tmp_path, capsys):
    command = ["graph", str(RECIPES / "cnn-small.yaml"), "--diagram", "--out", str(tmp_path / "d")]
    assert main(command) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "'conv2d_1' is a Conv2D" in err and "without --diagram" in err


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
def test_graph_out_with_an_image_suffix_writes_exactly_that_file(tmp_path, capsys, backward):
    out = tmp_path / "g.png"
    spec = str(EXAMPLES / "relu-tanh-sigmoid-mse.yaml")
    command = ["graph", spec, "--out", str(out), "--engine", "matplotlib"]
    assert main(command + (["--backward"] if backward else [])) == 0
    assert capsys.readouterr().out.split() == [str(out)]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["g.png"]
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_graph_out_without_a_suffix_is_a_stem_for_every_format(tmp_path, capsys):
    spec = str(EXAMPLES / "relu-tanh-sigmoid-mse.yaml")
    assert main(["graph", spec, "--out", str(tmp_path / "g"), "--formats", "dot"]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "g-forward.dot")]
    assert main(["graph", spec, "--diagram", "--out", str(tmp_path / "g"), "--formats", "svg"]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "g-network.svg")]


def test_graph_out_file_and_other_formats_is_one_line_error(tmp_path, capsys):
    spec = str(EXAMPLES / "relu-tanh-sigmoid-mse.yaml")
    command = ["graph", spec, "--out", str(tmp_path / "g.png"), "--formats", "svg"]
    assert main(command) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--formats" in err and "g.png" in err
    assert list(tmp_path.iterdir()) == []
