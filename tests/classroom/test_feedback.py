"""A student's feedback page: their value, the right one, and the right arithmetic."""

from pathlib import Path

import pytest

from chainrule.classroom.feedback import feedback_document, render_feedback, worked_equations
from chainrule.classroom.grader import Grader

CLASSIC = Path(__file__).resolve().parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml"


@pytest.fixture(scope="module")
def result():
    return Grader(CLASSIC).check({"a3[1]": "0.673", "dL/da3[1]": "0.346", "δ3[1]": "0.0761"})


def test_the_page_shows_both_values_and_the_arithmetic(result):
    page = render_feedback(result, "markdown")
    assert "Your value: 0.346. The right value: 0.1732." in page
    assert "(2/2)" in render_feedback(result, "text") or "\\frac{2}{2}" in page
    assert "0.6732 - 0.5" in page  # the right arithmetic, with the numbers
    assert "It follows from your value of dL/da3[1] (partial credit)" in page
    assert "### a3[1]" not in page  # right answers need no second look


def test_html_page_is_standalone(result):
    page = render_feedback(result, "html")
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "Feedback for your answers" in page


def test_the_worked_equations_by_name(result):
    equations = worked_equations(result)
    assert equations["δ3[1]"].value == pytest.approx(result["δ3[1]"].expected)
    assert "W1[1,1]" in equations  # the update's line for the new weight


def test_the_document_has_one_heading_per_step_to_redo(result):
    headings = [b for b in feedback_document(result).blocks if type(b).__name__ == "Heading"]
    assert len(headings) == 1 + 2
