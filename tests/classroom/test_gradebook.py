"""Class mode: a folder of submissions into a gradebook CSV, a mistakes summary and pages."""

import csv
from pathlib import Path

import pytest

from chainrule.classroom.gradebook import grade_class, submissions

CLASSIC = Path(__file__).resolve().parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml"


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "ada.yaml").write_text("a3[1]: 0.673\ndL/da3[1]: 0.1732\n")
    (folder / "bob.yaml").write_text("a3[1]: 0.673\ndL/da3[1]: 0.346\n")
    (folder / "cy.csv").write_text("quantity,value\na3[1],0.71\ndL/da3[1],0.346\n")
    (folder / "dan.yaml").write_text("a3[9]: 1\n")
    (folder / "notes.txt").write_text("not a submission")
    return folder


def test_the_gradebook(folder, tmp_path):
    out = tmp_path / "out"
    outcome = grade_class(CLASSIC, folder, out, weights={"follows": 0.5})
    rows = list(csv.DictReader((out / "grades.csv").open()))
    by_student = {row["student"]: row for row in rows}
    assert set(by_student) == {"ada", "bob", "cy", "dan"}
    assert by_student["ada"]["score"] == "1.0000"
    assert by_student["bob"]["dL/da3[1]"] == "wrong" and by_student["bob"]["score"] == "0.5000"
    assert by_student["cy"]["a3[1]"] == "wrong" and by_student["cy"]["first_wrong"] == "a3[1]"
    assert "unknown quantity 'a3[9]'" in by_student["dan"]["error"]
    assert outcome.mistakes()["loss convention factor"] == 2  # bob and cy
    summary = (out / "mistakes.md").read_text()
    assert "loss convention factor" in summary and "dan" in summary
    for student in ("ada", "bob", "cy"):
        assert (out / "feedback" / f"{student}.md").is_file()
        assert (out / "feedback" / f"{student}.html").is_file()
    assert not outcome.all_right


def test_an_empty_or_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="submissions folder not found"):
        submissions(tmp_path / "none")
    with pytest.raises(ValueError, match="no answers files"):
        submissions(tmp_path)
