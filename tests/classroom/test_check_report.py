"""The check report, through the document model, in text, Markdown and HTML."""

from pathlib import Path

import pytest

from chainrule.classroom.check_report import check_document, render_check
from chainrule.classroom.grader import Grader

CLASSIC = Path(__file__).resolve().parents[2] / "examples" / "relu-tanh-sigmoid-mse.yaml"


@pytest.fixture(scope="module")
def result():
    grader = Grader(CLASSIC)
    return grader.check({"a3[1]": "0.673", "dL/da3[1]": "0.346", "δ3[1]": "0.0762", "L": "0.9"})


def test_text_report_has_verdicts_and_notes(result):
    text = render_check(result)
    assert "first wrong step: L, in the loss" in text
    assert "wrong: loss convention factor" in text
    assert "follows from your value of dL/da3[1]" in text
    assert "L = 0.9 is wrong: the right value is 0.02175" in text


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_other_formats(result, fmt):
    out = render_check(result, fmt)
    assert "dL/da3[1]" in out and "0.346" in out


def test_the_document_lists_the_answered_only(result):
    document = check_document(result)
    table = next(b for b in document.blocks if type(b).__name__ == "Table")
    assert len(table.rows) == 4


def test_a_check_result_shows_this_report_in_a_notebook(result, html_text):
    counts = {verdict: result.count(verdict) for verdict in ("right", "follows", "wrong")}
    assert repr(result) == (
        f"CheckResult({result.title!r}: {counts['right']} right, {counts['follows']} follows, "
        f"{counts['wrong']} wrong, {result.count('missing')} missing)"
    )
    assert counts["wrong"] >= 1 and counts["follows"] >= 1
    text = html_text(result._repr_html_())
    assert text.startswith(f"Check: {result.title}")
    assert "first wrong step: L, in the loss" in text and "follows from your value" in text
    assert result._repr_markdown_() == render_check(result, "markdown")
