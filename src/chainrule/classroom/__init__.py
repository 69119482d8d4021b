"""The classroom: what a course does with the worked example — a different backprop exercise
for every student (sheet without answers, answer key, LaTeX/PDF) and ``check``, which grades
hand-worked numbers step by step with error carried forward and names the usual mistakes.

Builds on ``explain`` (one worked record, many views) and ``reporting`` (the document model);
the CLI and the pages call it, never the reverse.
"""

from chainrule.classroom.check_report import check_document, render_check
from chainrule.classroom.feedback import feedback_document, render_feedback
from chainrule.classroom.gradebook import ClassResult, grade_class
from chainrule.classroom.grader import Grader, check
from chainrule.classroom.verdicts import CheckResult, QuantityResult

__all__ = [
    "CheckResult",
    "ClassResult",
    "Grader",
    "QuantityResult",
    "check",
    "check_document",
    "feedback_document",
    "grade_class",
    "render_check",
    "render_feedback",
]
