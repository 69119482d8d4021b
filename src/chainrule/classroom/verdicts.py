"""What ``check`` finds, quantity by quantity: the verdicts and the result that holds them.

A quantity is

* ``right``   — the student's number is the right value rounded to the digits they wrote;
* ``follows`` — wrong, but it is what the step gives from the student's own earlier numbers
  (error carried forward: "follows from your value of dL/da3[1]"), partial credit;
* ``wrong``   — neither; a diagnosis names the usual mistake that reproduces it, if one does;
* ``missing`` — not answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainrule.classroom.diagnosis import Diagnosis
from chainrule.reporting.display import RichDisplay
from chainrule.utils.validation import check_number

RIGHT, FOLLOWS, WRONG, MISSING = "right", "follows", "wrong", "missing"
VERDICTS = (RIGHT, FOLLOWS, WRONG, MISSING)

#: The default credit of each verdict (a score is their weighted mean over the answered ones).
DEFAULT_WEIGHTS: dict[str, float] = {RIGHT: 1.0, FOLLOWS: 0.5, WRONG: 0.0, MISSING: 0.0}

#: The part of the worked example each kind of quantity belongs to.
STEPS = {
    "z": "forward pass",
    "a": "forward pass",
    "L": "loss",
    "dL/da": "backward pass",
    "f'": "backward pass",
    "J": "backward pass",
    "δ": "backward pass",
    "dL/dx": "backward pass",
    "dL/dW": "gradients",
    "dL/db": "gradients",
    "state": "update",
    "θ": "update",
}


@dataclass(frozen=True)
class QuantityResult:
    """One quantity's verdict: the right value, the student's, and what follows from theirs."""

    name: str
    step: str
    verdict: str
    expected: float
    given: float | None = None
    given_text: str | None = None
    #: The value the step gives from the student's own earlier numbers.
    carried: float | None = None
    #: For ``follows``: the student's wrong earlier values it follows from.
    follows_from: tuple[str, ...] = ()
    diagnosis: Diagnosis | None = None
    work: str | None = None

    @property
    def verdict_text(self) -> str:
        """``right``, ``follows from your value of L``, ``wrong: <the mistake>``, ``missing``."""
        if self.verdict == FOLLOWS:
            return f"follows from your value of {', '.join(self.follows_from)}"
        if self.verdict == WRONG and self.diagnosis is not None:
            return f"wrong: {self.diagnosis.mistake}"
        return self.verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "step": self.step,
            "verdict": self.verdict,
            "expected": self.expected,
            "given": self.given,
            "given_text": self.given_text,
            "carried": self.carried,
            "follows_from": list(self.follows_from),
            "diagnosis": None
            if self.diagnosis is None
            else {
                "mistake": self.diagnosis.mistake,
                "message": self.diagnosis.message,
                "value": self.diagnosis.value,
            },
            "work": self.work,
        }


def check_weights(weights: dict[str, float] | None) -> dict[str, float]:
    """``weights`` (verdict -> credit) over the defaults; unknown verdicts are an error."""
    merged = dict(DEFAULT_WEIGHTS)
    for verdict, weight in (weights or {}).items():
        if verdict not in VERDICTS:
            raise ValueError(
                f"weights: unknown verdict {verdict!r}; valid verdicts: {', '.join(VERDICTS)}"
            )
        merged[verdict] = check_number(weight, f"weights[{verdict!r}]", minimum=0.0)
    return merged


@dataclass(repr=False)
class CheckResult(RichDisplay):
    """Every quantity of the step in order, and what a teacher or a student asks of them.

    In a notebook it shows itself as ``chainrule check``'s report (``RichDisplay``; the
    document is registered by ``classroom.check_report``, which imports this module)."""

    title: str
    source: str
    student: str | None
    results: list[QuantityResult]
    rtol: float | None = None
    #: The worked example the answers were checked against (for the right arithmetic).
    record: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        counts = ", ".join(f"{self.count(verdict)} {verdict}" for verdict in VERDICTS)
        who = f" by {self.student}" if self.student else ""
        return f"CheckResult({self.title!r}{who}: {counts})"

    @property
    def answered(self) -> list[QuantityResult]:
        return [r for r in self.results if r.verdict != MISSING]

    def count(self, verdict: str) -> int:
        return sum(r.verdict == verdict for r in self.results)

    @property
    def first_wrong(self) -> QuantityResult | None:
        """The first step, in the order of the worked example, that is independently wrong."""
        return next((r for r in self.results if r.verdict == WRONG), None)

    @property
    def all_right(self) -> bool:
        """Whether every answered quantity is right (at least one answered)."""
        return bool(self.answered) and all(r.verdict == RIGHT for r in self.answered)

    def __getitem__(self, name: str) -> QuantityResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def score(
        self, weights: dict[str, float] | None = None, over: list[str] | None = None
    ) -> float:
        """The mean credit (``weights``: verdict -> credit) over the quantities ``over`` (a
        sheet's tasks; a missing one earns the ``missing`` credit), by default over the
        answered ones; 0 when there are none."""
        merged = check_weights(weights)
        scored = self.answered if over is None else [self[name] for name in over]
        if not scored:
            return 0.0
        return sum(merged[r.verdict] for r in scored) / len(scored)

    def to_dict(self, weights: dict[str, float] | None = None) -> dict[str, Any]:
        first = self.first_wrong
        return {
            "title": self.title,
            "source": self.source,
            "student": self.student,
            "rtol": self.rtol,
            "counts": {verdict: self.count(verdict) for verdict in VERDICTS},
            "score": self.score(weights),
            "first_wrong": None if first is None else first.name,
            "quantities": [r.to_dict() for r in self.results],
        }
