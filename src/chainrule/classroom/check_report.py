"""``chainrule check``'s report: the verdict of every answered quantity, as a document.

One :class:`~chainrule.reporting.document.Document` (summary, the first wrong step, a table
of the answers in step order, then what each wrong value reproduces), written in any of the
document model's formats by :func:`render_check`.
"""

from __future__ import annotations

from chainrule.classroom.verdicts import FOLLOWS, MISSING, RIGHT, WRONG, CheckResult
from chainrule.reporting import document as doc
from chainrule.reporting.display import register_document
from chainrule.reporting.expr import format_number
from chainrule.reporting.formats import render


def number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else format_number(value, digits)


def summary(result: CheckResult) -> str:
    """ "5 right, 2 follow from an earlier value, 1 wrong (first wrong step: L); 73 not
    answered." """
    first = result.first_wrong
    parts = [
        f"{result.count(RIGHT)} right",
        f"{result.count(FOLLOWS)} follow from an earlier value of yours",
        f"{result.count(WRONG)} wrong",
    ]
    text = ", ".join(parts)
    if first is not None:
        text += f" (first wrong step: {first.name}, in the {first.step})"
    return f"{text}; {result.count(MISSING)} not answered. Score {result.score():.0%}."


def answer_table(result: CheckResult, digits: int = 4) -> doc.Table:
    rows = [
        [r.name, r.given_text or "", number(r.expected, digits), r.verdict_text]
        for r in result.answered
    ]
    return doc.Table(["Quantity", "Your value", "Right value", "Verdict"], rows, align="lrrl")


def check_document(result: CheckResult, digits: int = 4) -> doc.Document:
    """The report of one student's answers."""
    blocks: list[doc.Block] = []
    who = f" by {result.student}" if result.student else ""
    how = (
        f"within a relative tolerance of {result.rtol:g}"
        if result.rtol is not None
        else "at the precision each number is written to"
    )
    blocks.append(doc.Paragraph(f"Answers{who} ({result.source}), judged {how}."))
    steps = result.record.spec.steps if result.record is not None else 1
    if steps > 1:
        blocks.append(doc.Paragraph(f"The spec runs {steps} steps; these are step 1's numbers."))
    blocks.append(doc.Paragraph(summary(result)))
    if result.answered:
        blocks.append(answer_table(result, digits))
    notes = [r for r in result.answered if r.verdict in (WRONG, FOLLOWS)]
    if notes:
        blocks.append(doc.Heading("Notes", 2))
    for r in notes:
        if r.verdict == FOLLOWS:
            text = (
                f"{r.name} = {r.given_text} is wrong ({number(r.expected, digits)} is right), "
                f"but it follows from your value of {', '.join(r.follows_from)}: from your "
                f"numbers the step gives {number(r.carried, digits)}."
            )
        elif r.diagnosis is not None:
            text = f"{r.name} = {r.given_text}: {r.diagnosis.message}."
        else:
            text = (
                f"{r.name} = {r.given_text} is wrong: the right value is "
                f"{number(r.expected, digits)}, and from your numbers the step gives "
                f"{number(r.carried, digits)}."
            )
        blocks.append(doc.Paragraph(text))
    return doc.Document(f"Check: {result.title}", blocks, origin="chainrule check")


def render_check(result: CheckResult, fmt: str = "text", digits: int = 4) -> str:
    """The report in ``fmt`` (``text``, ``markdown``, ``latex`` or ``html``)."""
    return render(check_document(result, digits), fmt)


# A check result shows itself in a notebook as this report (reporting.display.RichDisplay);
# verdicts.py cannot import this module, which imports it.
register_document(CheckResult, lambda result, fmt: check_document(result))
