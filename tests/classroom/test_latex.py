"""Standalone LaTeX: a sheet compiles with pdflatex as written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chainrule.classroom import latex
from chainrule.classroom.assignment import ExerciseSettings, make_variant
from chainrule.classroom.sheets import key_document, sheet_document
from chainrule.reporting.formats import render

CLASSIC = yaml.safe_load(
    (Path(__file__).parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml").read_text()
)


def test_a_standalone_document_wraps_its_fragments_one_a_page():
    text = latex.standalone("A", "B")
    assert text.startswith("\\documentclass") and text.endswith("\\end{document}\n")
    assert text.count("\\begin{document}") == 1
    assert "A\n\n\\clearpage\nB\n" in text


@pytest.mark.skipif(not latex.have_pdflatex(), reason="pdflatex is not installed")
def test_a_sheet_with_every_task_compiles_with_pdflatex(tmp_path):
    settings = ExerciseSettings(
        tasks=("forward", "loss", "deltas", "gradients", "update", "paths"), weights=("W1[1,1]",)
    )
    variant = make_variant(CLASSIC, "alice", settings)
    path = tmp_path / "sheet.tex"
    path.write_text(latex.standalone(render(sheet_document(variant), "latex")))
    pdf = latex.compile_pdf(path)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert not (tmp_path / "sheet.log").exists()


@pytest.mark.skipif(not latex.have_pdflatex(), reason="pdflatex is not installed")
@pytest.mark.parametrize("optimizer", ["momentum", "classic_momentum", "nesterov", "adam"])
def test_an_answer_key_compiles_with_pdflatex_for_each_optimizer(tmp_path, optimizer):
    spec = {**CLASSIC, "optimizer": {"name": optimizer, "learning_rate": 0.01}}
    variant = make_variant(spec, "bob", ExerciseSettings())
    path = tmp_path / "key.tex"
    path.write_text(latex.standalone(render(key_document(variant, "latex"), "latex")))
    assert latex.compile_pdf(path).read_bytes().startswith(b"%PDF")


@pytest.mark.skipif(not latex.have_pdflatex(), reason="pdflatex is not installed")
def test_a_broken_document_names_the_error(tmp_path):
    path = tmp_path / "broken.tex"
    path.write_text(latex.standalone("\\undefinedcommand"))
    with pytest.raises(RuntimeError, match="Undefined control sequence"):
        latex.compile_pdf(path)
