"""A student's hand-worked answers, read from YAML or CSV, each number kept as it was written.

YAML: a mapping from the names ``chainrule explain`` prints to numbers; a number may come
with the work that gave it, so a diagnosis can read the numbers the student used::

    a3[1]: 0.673
    L: {value: 0.0174, work: "((0.5 - 0.573)^2 + (0.8 - 0.628)^2)/2"}
    dL/da3[1]: 0.346

(optionally under ``answers:``, beside ``student: id``). CSV: a header with ``quantity`` and
``value`` (and optionally ``work``), one quantity a row. Any subset may be given; an empty
value is no answer. The text is kept, because a value is judged at its own precision: 0.673
stands for anything in [0.6725, 0.6735]. ``delta3[1]`` is read as δ3[1].
"""

from __future__ import annotations

import ast
import csv
import io
import operator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import yaml


@dataclass(frozen=True)
class Answer:
    """One answered quantity: the name as given, the number as written and its value."""

    name: str
    text: str
    value: float
    #: Half a unit in the last written digit: 0.0005 for 0.673; None for a value from work.
    half_unit: float | None
    work: str | None = None


def normalize_name(name: str) -> str:
    """The name with spaces dropped and ``delta`` written δ (``delta3[1]`` is δ3[1])."""
    return "".join(str(name).split()).replace("delta", "δ")


def parse_number(text: str, where: str) -> tuple[float, float]:
    """(value, half a unit of its last digit) of a number as written: "0.673" -> (0.673,
    0.0005), "8.9e-05" -> (8.9e-05, 5e-07)."""
    try:
        decimal = Decimal(text.strip().replace("−", "-"))
    except InvalidOperation:
        raise ValueError(f"{where}: {text!r} is not a number") from None
    if not decimal.is_finite():
        raise ValueError(f"{where}: {text!r} is not a finite number")
    exponent = decimal.as_tuple().exponent
    return float(decimal), 0.5 * 10.0 ** int(exponent)  # type: ignore[arg-type]


_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_FUNCTIONS = {"exp": np.exp, "log": np.log, "ln": np.log, "sqrt": np.sqrt, "tanh": np.tanh}


def _tree(work: str, where: str) -> ast.expr:
    text = work.replace("^", "**").replace("−", "-").replace("×", "*").replace("·", "*")
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ValueError(f"{where}: cannot read the work {work!r} as arithmetic") from None


def evaluate_work(work: str, where: str = "work") -> float:
    """The value of arithmetic a student wrote: numbers, + - * / ^ (or **), parentheses and
    exp, log, sqrt, tanh."""

    def value(node: ast.expr) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            return -value(node.operand) if isinstance(node.op, ast.USub) else value(node.operand)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and len(node.args) == 1
        ):
            return float(_FUNCTIONS[node.func.id](value(node.args[0])))
        raise ValueError(f"{where}: the work {work!r} holds something other than arithmetic")

    try:
        return float(value(_tree(work, where)))
    except (ZeroDivisionError, OverflowError):
        raise ValueError(f"{where}: the work {work!r} does not evaluate to a number") from None


def work_numbers(work: str) -> list[str]:
    """The numbers written in the work, as written, in reading order."""
    segment = ast.get_source_segment
    text = work.replace("^", "**").replace("−", "-").replace("×", "*").replace("·", "*")
    tree = ast.parse(text, mode="eval")
    found = [
        (node.col_offset, segment(text, node) or repr(node.value))
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float)
    ]
    return [number for _, number in sorted(found)]


def _answer(name: str, raw: object, where: str) -> Answer | None:
    work = None
    if isinstance(raw, dict):
        unknown = set(raw) - {"value", "work"}
        if unknown:
            raise ValueError(f"{where}: an answer takes 'value' and 'work', got {sorted(unknown)}")
        work = raw.get("work") or None
        raw = raw.get("value", "")
    if isinstance(raw, list):
        raise ValueError(f"{where}: give one number per quantity, got a list")
    text = "" if raw is None else str(raw).strip()
    if not text and work is None:
        return None
    if not text:
        value = evaluate_work(str(work), where)
        return Answer(name, f"{value:.6g}", value, None, str(work))
    if work is not None:
        evaluate_work(str(work), where)  # unreadable work is an error now, not in a diagnosis
    value, half = parse_number(text, where)
    return Answer(name, text, value, half, None if work is None else str(work))


def parse_answers(text: str, source: str = "<answers>", kind: str | None = None) -> dict:
    """{"student": id or None, "answers": [Answer, ...]} from YAML or CSV text (``kind``
    ``"yaml"`` or ``"csv"``; by default CSV when the first line names a ``quantity`` column)."""
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if kind is None:
        kind = "csv" if "quantity" in first.lower() and "," in first else "yaml"
    return _parse_csv(text, source) if kind == "csv" else _parse_yaml(text, source)


def _parse_yaml(text: str, source: str) -> dict:
    try:
        raw = yaml.load(text, Loader=yaml.BaseLoader)  # strings: keep 0.50 as written
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"{source}: not valid YAML{line}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping of quantity names to numbers")
    student = None
    if "answers" in raw:
        unknown = set(raw) - {"answers", "student"}
        if unknown:
            raise ValueError(f"{source}: unknown keys {sorted(unknown)}; use student and answers")
        student, raw = raw.get("student"), raw["answers"] or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{source}: answers must map quantity names to numbers")
    answers = []
    for name, value in raw.items():
        answer = _answer(normalize_name(name), value, f"{source}: {name}")
        if answer is not None:
            answers.append(answer)
    return {"student": student, "answers": answers}


def _rejoin_brackets(row: list[str]) -> list[str]:
    """Cells split at the commas inside an unquoted name's brackets, joined again:
    ``z1[1,2,3],0.25`` is the quantity ``z1[1,2,3]`` and the value 0.25."""
    cells: list[str] = []
    for cell in row:
        if cells and cells[-1].count("[") > cells[-1].count("]"):
            cells[-1] += "," + cell
        else:
            cells.append(cell)
    return cells


def _parse_csv(text: str, source: str) -> dict:
    rows = [_rejoin_brackets(row) for row in csv.reader(io.StringIO(text))]
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if "quantity" not in header or "value" not in header:
        raise ValueError(f"{source}: a CSV of answers needs the columns quantity and value")
    name_at, value_at = header.index("quantity"), header.index("value")
    work_at = header.index("work") if "work" in header else None
    answers = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = row + [""] * (len(header) - len(row))
        raw: object = cells[value_at]
        if work_at is not None and cells[work_at].strip():
            raw = {"value": cells[value_at], "work": cells[work_at]}
        answer = _answer(normalize_name(cells[name_at]), raw, f"{source}: line {line}")
        if answer is not None:
            answers.append(answer)
    return {"student": None, "answers": answers}


def read_answers(path: str | Path) -> dict:
    """The answers in the file ``path`` (``.csv``, else YAML); the student defaults to the
    file's stem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"answers file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (UTF-8)") from None
    kind = "csv" if path.suffix.lower() == ".csv" else "yaml"
    parsed = parse_answers(text, str(path), kind)
    if parsed["student"] is None:
        parsed["student"] = path.stem
    return parsed


def agrees(answer: Answer, value: float, rtol: float | None = None, slack: float = 1.0) -> bool:
    """Whether ``answer`` is ``value`` at the answer's own precision (it rounds to the number
    written; ``slack`` widens that for numbers carried from the student's rounded ones), or
    within ``rtol`` of it when given. A value from work alone is held to 1e-3 relative."""
    difference = abs(answer.value - value)
    if rtol is not None:
        return difference <= rtol * abs(value) + 1e-15
    if answer.half_unit is None:
        return difference <= 1e-3 * abs(value) + 1e-12
    return difference <= slack * answer.half_unit * (1 + 1e-9) + 1e-15
