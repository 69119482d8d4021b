"""``check``: grade hand-worked answers step by step, with error carried forward.

For each quantity of the step, in the order ``explain`` prints them::

    right    given ≈ the right value, at the precision the student wrote (or within rtol)
    follows  given ≈ the value the step gives from the student's own earlier numbers, and
             that differs from the right one because of an earlier wrong value of theirs
    wrong    otherwise; ``diagnosis`` tries the usual mistakes (``classroom.diagnosis``)
    missing  not answered

The right values are those of ``explain``'s worked example (``explain.compute``); the values
carried forward come from :class:`~chainrule.classroom.quantities.Chain` (a convolutional
spec's :class:`~chainrule.classroom.conv_quantities.ConvChain`), run from the student's
numbers. A :class:`Grader` holds one spec's worked example for a whole class.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.classroom.answers import Answer, agrees, normalize_name, parse_number, read_answers
from chainrule.classroom.conv_quantities import chain_for
from chainrule.classroom.diagnosis import diagnose
from chainrule.classroom.mistakes import Context
from chainrule.classroom.quantities import Parameters, Quantity
from chainrule.classroom.verdicts import (
    FOLLOWS,
    MISSING,
    RIGHT,
    STEPS,
    WRONG,
    CheckResult,
    QuantityResult,
)
from chainrule.explain.record import WorkedExample
from chainrule.explain.spec import ConvSpec, ExplainSpec, load_spec
from chainrule.explain.worked import compute
from chainrule.utils.validation import check_number

Answers = str | Path | Mapping[str, Any] | list[Answer]


class Grader:
    """One spec's right values and chain, to grade any number of students against."""

    def __init__(self, spec: ExplainSpec | ConvSpec | str | Path) -> None:
        given = isinstance(spec, ExplainSpec | ConvSpec)
        self.source = "" if given else str(spec)
        self.spec = spec if given else load_spec(spec)
        self.chain = chain_for(self.spec)
        self.record: WorkedExample = compute(self.spec, source=self.source)
        self.expected, _ = self.chain.evaluate()
        step = self.record.steps[0]
        self.updated = Parameters(step.W_new, step.b_new)

    @property
    def names(self) -> list[str]:
        """Every name an answer may use, in step order."""
        return list(self.chain.by_name)

    def resolve(self, name: str, source: str = "answers") -> str:
        """The quantity's name as explain prints it, or a one-line error with the closest."""
        key = normalize_name(name)
        if key in self.chain.by_name:
            return key
        for q in self.chain.by_name.values():  # f'(z3[1]) for sigmoid'(z3[1])
            if q.kind == "f'" and key == f"f'(z{q.layer}[{','.join(map(str, q.index))}])":
                return q.name
        frozen = re.fullmatch(r"([Wb]\d+)\[[\d,]+\]", key)
        if frozen and frozen.group(1) in self.spec.parameter_names():
            raise ValueError(
                f"{source}: {name!r}: {frozen.group(1)} is frozen in this spec (not updated), so "
                f"there is no value after the step to check; its gradient is dL/d{key}"
            )
        close = difflib.get_close_matches(key, self.names, n=3, cutoff=0.5)
        hint = f"; closest: {', '.join(close)}" if close else f"; valid names: {self.names[0]} …"
        raise ValueError(f"{source}: unknown quantity {name!r}{hint}")

    def answers(self, answers: Answers) -> tuple[str | None, str, dict[str, Answer]]:
        """(student, source, {name: Answer}) from a file, a mapping or a list of answers."""
        student, source = None, "answers"
        if isinstance(answers, str | Path):
            parsed = read_answers(answers)
            student, source, given = parsed["student"], str(answers), parsed["answers"]
        elif isinstance(answers, Mapping):
            given = []
            for name, value in answers.items():
                text = str(value)
                number, half = parse_number(text, f"answers: {name}")
                given.append(Answer(normalize_name(name), text, number, half))
        else:
            given = list(answers)
        if not given:
            raise ValueError(f"{source}: no answers (give numbers under the names explain prints)")
        by_name: dict[str, Answer] = {}
        for answer in given:
            name = self.resolve(answer.name, source)
            if name in by_name:
                raise ValueError(f"{source}: {name} is answered twice")
            by_name[name] = answer
        return None if student is None else str(student), source, by_name

    def check(self, answers: Answers, rtol: float | None = None) -> CheckResult:
        """Grade ``answers`` (see :func:`check`)."""
        if rtol is not None:
            rtol = check_number(rtol, "--rtol", minimum=0.0, strict=True)
        student, source, given = self.answers(answers)
        overrides = {name: answer.value for name, answer in given.items()}
        carried, used = self.chain.evaluate(overrides)
        context = Context(self.chain, used, self.expected, given, self.updated, rtol, carried)
        verdicts: dict[str, str] = {}
        results = []
        evaluations = _Evaluations(self.chain)
        for q in self.chain.by_name.values():
            result = self._judge(
                q, given.get(q.name), carried, verdicts, overrides, context, evaluations
            )
            verdicts[q.name] = result.verdict
            results.append(result)
        title = self.spec.title or self.source
        return CheckResult(title, source, student, results, rtol, self.record)

    def _judge(
        self,
        q: Quantity,
        answer: Answer | None,
        carried: dict[str, float],
        verdicts: dict[str, str],
        overrides: dict[str, float],
        context: Context,
        evaluations: _Evaluations,
    ) -> QuantityResult:
        expected = self.expected[q.name]
        common = {"name": q.name, "step": STEPS[q.kind], "expected": expected}
        if answer is None:
            return QuantityResult(**common, verdict=MISSING, carried=carried[q.name])
        common |= {
            "given": answer.value,
            "given_text": answer.text,
            "carried": carried[q.name],
            "work": answer.work,
        }
        if agrees(answer, expected, context.rtol):
            return QuantityResult(**common, verdict=RIGHT)
        for value in self._carried_values(q, carried, verdicts, overrides, evaluations):
            moved = not np.isclose(value, expected, rtol=1e-9, atol=1e-15)
            if not (moved and agrees(answer, value, context.rtol, slack=2.0)):
                continue
            sources = self._sources(q, verdicts, overrides, evaluations)
            if not sources:  # only the student's own rounding of right numbers: right
                return QuantityResult(**common, verdict=RIGHT)
            return QuantityResult(**common, verdict=FOLLOWS, follows_from=tuple(sources))
        return QuantityResult(**common, verdict=WRONG, diagnosis=diagnose(q, answer, context))

    def _carried_values(
        self,
        q: Quantity,
        carried: dict[str, float],
        verdicts: dict[str, str],
        overrides: dict[str, float],
        evaluations: _Evaluations,
    ) -> list[float]:
        """``q`` from the student's numbers: from all of them as written (rounded), and from
        their wrong ones only, the rest at full precision (as a calculator keeps them)."""
        slips = {name: overrides[name] for name, verdict in verdicts.items() if verdict == WRONG}
        if not slips:
            return [carried[q.name]]
        return [carried[q.name], evaluations.value(slips, q.name)]

    def _sources(
        self,
        q: Quantity,
        verdicts: dict[str, str],
        overrides: dict[str, float],
        evaluations: _Evaluations,
    ) -> list[str]:
        """The student's wrong earlier values that move ``q``: with one of them put right (and
        the values that follow from their slips recomputed), ``q`` changes."""
        ancestors = self.chain.ancestors(q.name)
        wrong = [name for name in verdicts if verdicts[name] == WRONG and name in ancestors]
        following = {name for name in verdicts if verdicts[name] == FOLLOWS}
        base = {key: v for key, v in overrides.items() if key not in following}
        as_given = evaluations.value(base, q.name)
        sources = []
        for name in wrong:
            computed = evaluations.value(base | {name: self.expected[name]}, q.name)
            if not np.isclose(computed, as_given, rtol=1e-9, atol=1e-15):
                sources.append(name)
        return sources


class _Evaluations:
    """The chain evaluated from each set of overrides once per check: quantities in step
    order ask for the same student's numbers again and again (a convolutional step has
    hundreds of quantities)."""

    def __init__(self, chain) -> None:
        self.chain = chain
        self.done: dict[frozenset, dict[str, float]] = {}

    def value(self, overrides: dict[str, float], name: str) -> float:
        key = frozenset(overrides.items())
        if key not in self.done:
            self.done[key], _ = self.chain.evaluate(overrides)
        return self.done[key][name]


def check(
    spec: ExplainSpec | ConvSpec | str | Path, answers: Answers, rtol: float | None = None
) -> CheckResult:
    """Grade hand-worked ``answers`` to the worked example of ``spec`` step by step.

    ``spec``: an explain spec, dense or convolutional (or its file; a variant ``chainrule
    exercise`` wrote is one);
    ``answers``: a YAML or CSV file, a mapping ``{"a1[2]": "0.53", ...}`` (strings keep their
    precision), or a list of :class:`~chainrule.classroom.answers.Answer`. Names are those
    ``explain`` prints (``a1[2]``, ``L``, ``delta3[1]``, ``dL/dW1[1,1]``, ``W1[1,1]`` after
    the step, ``v(W1[1,1])``). ``rtol``: judge within this relative tolerance instead of at
    the precision each number is written to. An unknown name or a bad file raises
    ``ValueError`` with one line (``FileNotFoundError`` for a missing file).
    """
    return Grader(spec).check(answers, rtol)
