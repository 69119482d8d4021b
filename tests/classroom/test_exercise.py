"""A class exercise on disk: per-student files, the index CSV, the bundles."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from chainrule.classroom import exercise, latex
from chainrule.classroom.assignment import ExerciseSettings
from chainrule.classroom.exercise import (
    folder_name,
    numbered_students,
    read_roster,
    write_exercise,
)
from chainrule.explain import explain

CLASSIC = yaml.safe_load(
    (Path(__file__).parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml").read_text()
)


def test_every_student_gets_sheet_key_answers_and_spec(tmp_path):
    result = write_exercise(
        CLASSIC, ["ada", "bo b"], tmp_path, ExerciseSettings(), pdf=False, diagrams=False
    )
    rows = list(csv.DictReader(result.index.open()))
    assert [row["student"] for row in rows] == ["ada", "bo b"]
    assert rows[1]["directory"] == "bo_b"
    for row in rows:
        files = row["files"].split(";")
        assert {f"{row['directory']}/{name}" for name in ("sheet.md", "key.tex")} <= set(files)
        for name in files:
            assert (tmp_path / name).is_file()
        data = json.loads((tmp_path / row["directory"] / "answers.json").read_text())
        assert data["variant"] == row["variant"] and data["student"] == row["student"]
    # the variant's spec works with explain, and reproduces the key's loss
    text = explain(tmp_path / "ada" / "spec.yaml")
    assert "Every gradient agrees" in text
    again = write_exercise(
        CLASSIC, ["ada"], tmp_path / "again", ExerciseSettings(), pdf=False, diagrams=False
    )
    assert again.variants[0].variant_id == result.variants[0].variant_id
    assert (tmp_path / "again" / "ada" / "key.md").read_text() == (
        tmp_path / "ada" / "key.md"
    ).read_text()


def test_pdfs_and_bundles_are_compiled_when_asked(tmp_path, monkeypatch):
    compiled = []

    def fake_compile(path):  # pdflatex itself is tested in test_latex
        compiled.append(path.relative_to(tmp_path).as_posix())
        return path.with_suffix(".pdf")

    monkeypatch.setattr(latex, "compile_pdf", fake_compile)
    monkeypatch.setattr(latex, "have_pdflatex", lambda: True)
    result = write_exercise(
        CLASSIC, ["a", "b"], tmp_path, ExerciseSettings(), pdf=True, diagrams=False
    )
    assert compiled == [
        "a/sheet.tex",
        "a/key.tex",
        "b/sheet.tex",
        "b/key.tex",
        "sheets.tex",
        "keys.tex",
    ]
    bundle = (tmp_path / "sheets.tex").read_text()
    assert bundle.count("\\begin{document}") == 1 and bundle.count("\\clearpage") == 1
    assert [path.name for path in result.bundles] == ["sheets.pdf", "keys.pdf"]


def test_a_diagram_is_drawn_into_the_sheet(tmp_path):
    write_exercise(CLASSIC, ["ada"], tmp_path, ExerciseSettings(), pdf=False)
    assert (tmp_path / "ada" / "network.png").is_file()
    assert (
        "![The network with its weights and biases.](network.png)"
        in (tmp_path / "ada" / "sheet.md").read_text()
    )


def test_rosters_and_numbered_students(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,student\nAda,s1\nBo,s2\n\n")
    assert read_roster(roster) == ["s1", "s2"]
    roster.write_text("s1\ns2\n")
    assert read_roster(roster) == ["s1", "s2"]
    roster.write_text("student\ns1\ns1\n")
    with pytest.raises(ValueError, match="repeat: s1"):
        read_roster(roster)
    with pytest.raises(FileNotFoundError):
        read_roster(tmp_path / "missing.csv")
    assert numbered_students(2) == ["variant-001", "variant-002"]
    assert folder_name("A/B c") == "A_B_c"


def test_students_whose_folders_clash_are_refused(tmp_path):
    with pytest.raises(ValueError, match="share a folder name"):
        write_exercise(CLASSIC, ["a b", "a/b"], tmp_path, ExerciseSettings(), pdf=False)


def test_parallel_jobs_write_the_same_files(tmp_path, monkeypatch):
    monkeypatch.setattr(exercise, "ProcessPoolExecutor", _Serial)
    one = write_exercise(
        CLASSIC, ["a", "b"], tmp_path / "1", ExerciseSettings(), pdf=False, diagrams=False
    )
    two = write_exercise(
        CLASSIC, ["a", "b"], tmp_path / "2", ExerciseSettings(), pdf=False, diagrams=False, jobs=2
    )
    assert [v.variant_id for v in one.variants] == [v.variant_id for v in two.variants]
    assert (tmp_path / "1" / "b" / "key.md").read_text() == (
        tmp_path / "2" / "b" / "key.md"
    ).read_text()


class _Serial:
    """A stand-in pool (the test stays fast and in one process)."""

    def __init__(self, max_workers):
        self.max_workers = max_workers

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, function, items, chunksize=1):
        return map(function, items)


CONV = yaml.safe_load(
    (Path(__file__).parents[2] / "examples" / "conv-stride2-padded.yaml").read_text()
)


@pytest.mark.skipif(not latex.have_pdflatex(), reason="pdflatex is not installed")
def test_a_conv_exercise_compiles_to_pdf_and_its_sheet_holds_no_key_value(tmp_path):
    import re
    import shutil
    import subprocess

    write_exercise(CONV, ["ada"], tmp_path, ExerciseSettings(), pdf=True)
    folder = tmp_path / "ada"
    for name in ("sheet.pdf", "key.pdf", "spec.yaml"):
        assert (folder / name).is_file()
    assert not (folder / "network.png").exists()  # a conv sheet gives its maps as tables
    assert (tmp_path / "sheets.pdf").is_file() and (tmp_path / "keys.pdf").is_file()
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", folder / "sheet.pdf", "page"],
            cwd=tmp_path,
            check=True,
        )
        assert (tmp_path / "page-1.png").stat().st_size > 1000
    if shutil.which("pdftotext"):
        subprocess.run(["pdftotext", folder / "sheet.pdf", tmp_path / "sheet.txt"], check=True)
        text = (tmp_path / "sheet.txt").read_text()
        key = json.loads((folder / "answers.json").read_text())["answers"]
        on_sheet = set(re.findall(r"-?\d+\.\d+", text))
        for name, value in key.items():
            shown = f"{value:.4f}".rstrip("0")
            if len(shown.replace("-", "").replace(".", "").lstrip("0")) >= 3:
                assert shown not in on_sheet, name
        assert "dL/dx[1,i,j]" in text


def test_a_conv_variant_checks_all_right_with_its_own_key(tmp_path):
    from chainrule.classroom import check

    write_exercise(CONV, ["bo"], tmp_path, ExerciseSettings(), pdf=False)
    data = json.loads((tmp_path / "bo" / "answers.json").read_text())
    answers = {name: f"{value:.4f}" for name, value in data["answers"].items()}
    result = check(tmp_path / "bo" / "spec.yaml", answers)
    assert result.all_right and len(result.answered) == len(answers)
