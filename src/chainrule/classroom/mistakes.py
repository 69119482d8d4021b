"""What every mistake of ``diagnosis`` (dense) and ``conv_diagnosis`` (convolutions) reads and
gives: the :class:`Context` of one check, and a candidate value with its words."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from chainrule.classroom.answers import Answer
from chainrule.classroom.quantities import Chain, Parameters, Quantity


@dataclass
class Context:
    """What a diagnosis reads: the chain, the values the student used (their numbers where
    given, else computed from them), the right values, and the student's answers."""

    chain: Chain
    used: dict[str, float]
    expected: dict[str, float]
    answers: dict[str, Answer]
    updated: Parameters
    rtol: float | None = None
    #: Each quantity computed from the student's earlier numbers (not their own value of it).
    carried: dict[str, float] = field(default_factory=dict)


Candidate = tuple[float, str, str]  # value, mistake, message
Mistake = Callable[[Quantity, Context], Iterator[Candidate]]


def shown(value: float) -> str:
    """A number as a message shows it (4 significant digits)."""
    return f"{value:.4g}"


def contexts(context: Context) -> list[dict[str, float]]:
    """The values a mistake is tried on: the student's own numbers first, then the right ones."""
    return [context.used, context.expected]
