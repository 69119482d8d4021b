"""A feedback page for one student: their value, the right value, and the right arithmetic.

For every quantity not right, the page shows what the student wrote, the right value, what
went wrong (the mistake a diagnosis reproduced, or the earlier value it follows from) and the
worked example's own equation for it — formula, then numbers — so the student can redo the
step. Written through the document model, as Markdown or a standalone HTML page.
"""

from __future__ import annotations

from chainrule.classroom.check_report import answer_table, number, summary
from chainrule.classroom.verdicts import FOLLOWS, RIGHT, CheckResult
from chainrule.explain.record import Equation
from chainrule.reporting import document as doc
from chainrule.reporting.expr import Style, change_digits, format_number, latex_number
from chainrule.reporting.formats import render


def worked_equations(result: CheckResult) -> dict[str, Equation]:
    """The worked example's equations of step 1 by the name of what they compute."""
    equations: dict[str, Equation] = {}
    if result.record is None:
        return equations
    for section in result.record.steps[0].sections:
        for block in section.blocks:
            for equation in block.equations:
                equations.setdefault(equation.lhs.text(Style()), equation)
    return equations


def arithmetic(equation: Equation, digits: int = 4) -> doc.Equation:
    """``lhs = formula = numbers = value`` (an update's value with the digits its change needs)."""
    places = digits
    if equation.reference is not None:
        places = change_digits(equation.value, equation.reference, digits)
    value = doc.Math(latex_number(equation.value, places), format_number(equation.value, places))
    relation = doc.Math("\\leftarrow", "←") if equation.relation == "<-" else doc.Math("=", "=")
    sides = [doc.Math.of(form, digits) for form in equation.rhs]
    return doc.Equation(doc.Math.of(equation.lhs, digits), relation, [*sides, value])


def feedback_document(result: CheckResult, digits: int = 4) -> doc.Document:
    """One student's page: the summary, the table, then each step to redo."""
    equations = worked_equations(result)
    blocks: list[doc.Block] = [doc.Paragraph(summary(result))]
    if result.answered:
        blocks.append(answer_table(result, digits))
    redo = [r for r in result.answered if r.verdict != RIGHT]
    if redo:
        blocks.append(doc.Heading("Steps to look at again", 2))
    for r in redo:
        blocks.append(doc.Heading(r.name, 3))
        text = f"Your value: {r.given_text}. The right value: {number(r.expected, digits)}."
        if r.verdict == FOLLOWS:
            text += (
                f" It follows from your value of {', '.join(r.follows_from)} (partial credit): "
                f"from your numbers the step gives {number(r.carried, digits)}."
            )
        elif r.diagnosis is not None:
            text += f" What went wrong ({r.diagnosis.mistake}): {r.diagnosis.message}."
        if r.work:
            text += f" Your work: {r.work}."
        blocks.append(doc.Paragraph(text))
        if r.name in equations:
            blocks.append(doc.Equations([arithmetic(equations[r.name], digits)]))
    who = result.student or "your answers"
    return doc.Document(f"Feedback for {who}: {result.title}", blocks, origin="chainrule check")


def render_feedback(result: CheckResult, fmt: str = "markdown", digits: int = 4) -> str:
    return render(feedback_document(result, digits), fmt)
