"""Targets and their verdicts: every benchmark ends by saying, per target, met or MISSED.

A target is a measured value, a bound, and which side of the bound is good (``at_most``:
value <= bound, else value >= bound). Its verdict line names the target, the value, the bound
and the margin, the distance from the bound on the good side (negative: by how much it was
missed):

    met    sgd: parameters within 1e-9 of PyTorch's: 4.87e-16 (bound <= 1.00e-09; margin 2.1e+06x)
    MISSED batch 32: >= 4x faster than PyTorch: 1.70x (bound >= 4.00x; missed by 2.30x)

Quantities that span orders of magnitude (relative differences) take their margin as a
factor (``ratio=True``: bound / value when at most), the others as a difference in the
value's own format. A benchmark prints its verdicts and still exits 0: a missed target is a
measurement, not a failure of the script (the exit status is non-zero only when the script
itself failed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One target of a benchmark, with what was measured against it."""

    name: str
    value: float
    bound: float
    at_most: bool = True
    #: How the value, the bound and a difference margin are written (a ``format`` spec).
    style: str = ".2e"
    #: Margin as a factor (for quantities spanning orders of magnitude), not a difference.
    ratio: bool = False
    #: Written after the value (units, what it was measured over), e.g. "x" or " MB".
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.value <= self.bound if self.at_most else self.value >= self.bound

    def margin(self) -> str:
        """How far the value is from the bound, on the good side when met."""
        if self.ratio:
            low, high = sorted((abs(self.value), abs(self.bound)))
            if low == 0:
                return "inf"
            factor = high / low
            return f"{factor:.3g}x" if factor < 1e3 else f"{factor:.1e}x"
        difference = abs(self.bound - self.value)
        return f"{difference:{self.style}}{self.unit}"

    def line(self) -> str:
        """The verdict: ``met``/``MISSED``, the target, the value, the bound and the margin."""
        relation = "<=" if self.at_most else ">="
        margin = f"margin {self.margin()}" if self.met else f"missed by {self.margin()}"
        return (
            f"{'met   ' if self.met else 'MISSED'} {self.name}: {self.value:{self.style}}"
            f"{self.unit} (bound {relation} {self.bound:{self.style}}{self.unit}; {margin})"
        )

    def as_dict(self) -> dict:
        """For a benchmark's JSON record."""
        return {
            "target": self.name,
            "met": self.met,
            "value": self.value,
            "bound": self.bound,
            "at_most": self.at_most,
            "margin": self.margin(),
        }


def report(targets: Iterable[Target]) -> list[str]:
    """Every target's verdict line, then how many were met."""
    targets = list(targets)
    if not targets:
        return ["targets: none could be judged in this run (what they compare was not run)"]
    lines = [f"  {target.line()}" for target in targets]
    met = sum(target.met for target in targets)
    missed = len(targets) - met
    summary = f"targets: {met} of {len(targets)} met"
    lines.append(summary + (f", {missed} MISSED" if missed else ""))
    return lines


def print_report(targets: Iterable[Target]) -> None:
    """Print ``report(targets)``: the last lines a benchmark prints."""
    print("\n".join(report(targets)), flush=True)
