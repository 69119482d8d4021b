"""Class mode: a folder of submissions graded against one spec, into a gradebook.

``grade_class(spec, folder, out)`` checks every answers file in ``folder`` (``*.yaml``,
``*.yml``, ``*.csv``; the student is the file's stem unless the file names one) and writes::

    out/grades.csv               student × quantity: right / follows / wrong / missing, the
                                 counts, the first wrong step and the score (weighted credit)
    out/mistakes.md              the class's most common mistakes, and its most missed steps
    out/feedback/<student>.md    each student's feedback page (and .html)

A submission that cannot be read does not stop the class: its row says why.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from chainrule.classroom.feedback import render_feedback
from chainrule.classroom.grader import Grader
from chainrule.classroom.verdicts import VERDICTS, WRONG, CheckResult, check_weights
from chainrule.explain.spec import ExplainSpec
from chainrule.reporting import document as doc
from chainrule.reporting.formats import render
from chainrule.utils.atomic import atomic_write_text

SUFFIXES = (".yaml", ".yml", ".csv")


@dataclass
class ClassResult:
    """Every student's result, the submissions that could not be read, the files written."""

    results: list[CheckResult]
    errors: dict[str, str] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)

    @property
    def all_right(self) -> bool:
        return not self.errors and all(result.all_right for result in self.results)

    def mistakes(self) -> Counter:
        """(quantity kind of mistake) -> how many students made it, most common first."""
        counts: Counter = Counter()
        for result in self.results:
            seen = set()
            for r in result.results:
                if r.verdict == WRONG:
                    seen.add(r.diagnosis.mistake if r.diagnosis else "wrong, not diagnosed")
            counts.update(seen)
        return counts


def submissions(folder: str | Path) -> list[Path]:
    """The answers files in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise ValueError(f"{folder}: no answers files ({', '.join(SUFFIXES)})")
    return files


def _safe(name: str) -> str:
    """A student id as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "student"


def gradebook_csv(
    outcome: ClassResult, names: list[str], weights: dict[str, float] | None = None
) -> str:
    """The gradebook: one row per student, one column per quantity anyone answered; the score
    is over those columns (what the class was asked, as far as the submissions show)."""
    answered = [n for n in names if any(r[n].given is not None for r in outcome.results)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "score", *VERDICTS, "first_wrong", "error", *answered])
    for result in outcome.results:
        first = result.first_wrong
        writer.writerow(
            [
                result.student,
                f"{result.score(weights, over=answered):.4f}",
                *[result.count(v) for v in VERDICTS],
                "" if first is None else first.name,
                "",
                *[result[n].verdict for n in answered],
            ]
        )
    for student, error in outcome.errors.items():
        writer.writerow([student, "", *[""] * len(VERDICTS), "", error, *[""] * len(answered)])
    return buffer.getvalue()


def mistakes_document(outcome: ClassResult, title: str) -> doc.Document:
    """The most common mistakes, and the steps most often first wrong."""
    students = len(outcome.results)
    blocks: list[doc.Block] = [
        doc.Paragraph(f"{students} submission{'s' * (students != 1)} graded.")
    ]
    if outcome.errors:
        blocks.append(
            doc.Paragraph(
                f"{len(outcome.errors)} could not be read: "
                + "; ".join(f"{s}: {e}" for s, e in outcome.errors.items())
            )
        )
    mistakes = outcome.mistakes()
    if mistakes:
        rows = [[name, str(count)] for name, count in mistakes.most_common()]
        blocks.append(doc.Heading("Most common mistakes", 2))
        blocks.append(doc.Table(["Mistake", "Students"], rows, align="lr"))
    first = Counter(r.first_wrong.name for r in outcome.results if r.first_wrong is not None)
    if first:
        blocks.append(doc.Heading("First wrong step", 2))
        rows = [[name, str(count)] for name, count in first.most_common()]
        blocks.append(doc.Table(["Quantity", "Students"], rows, align="lr"))
    return doc.Document(f"Class summary: {title}", blocks, origin="chainrule check --class")


def grade_class(
    spec: ExplainSpec | str | Path,
    folder: str | Path,
    out: str | Path,
    *,
    weights: dict[str, float] | None = None,
    rtol: float | None = None,
) -> ClassResult:
    """Grade every submission in ``folder`` against ``spec``; write the gradebook to ``out``.

    ``weights``: credit per verdict, e.g. ``{"follows": 0.75}`` (defaults: right 1, follows
    0.5, wrong and missing 0); a score is the mean credit over the answered quantities.
    """
    check_weights(weights)
    grader = Grader(spec)
    outcome = ClassResult([])
    for path in submissions(folder):
        try:
            result = grader.check(path, rtol)
        except (ValueError, OSError) as error:
            outcome.errors[path.stem] = str(error)
            continue
        outcome.results.append(result)
    out = Path(out)
    names = grader.names
    outcome.written.append(
        atomic_write_text(out / "grades.csv", gradebook_csv(outcome, names, weights))
    )
    title = grader.spec.title or grader.source
    summary = render(mistakes_document(outcome, title), "markdown")
    outcome.written.append(atomic_write_text(out / "mistakes.md", summary))
    taken: set[str] = set()
    for result in outcome.results:
        stem = _safe(result.student or "student")
        while stem in taken:
            stem += "_"
        taken.add(stem)
        for fmt, suffix in (("markdown", ".md"), ("html", ".html")):
            page = render_feedback(result, fmt)
            outcome.written.append(atomic_write_text(out / "feedback" / f"{stem}{suffix}", page))
    return outcome
