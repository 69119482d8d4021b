"""Renderers of a worked example: terminal text, Markdown, and a LaTeX document fragment.

All three print the same record in the same order (network, then per step: forward pass,
loss, backward pass, gradients, chain-rule paths, update, verification; then a summary), and
round numbers only here, to ``digits`` significant digits.

* text: sections underlined, blocks grouped by layer, each block's general formula first and
  then one equation per number with the ``=`` signs aligned;
* markdown: headings, bullet lists of equations in code spans (so ``*`` is never emphasis),
  parameter matrices as tables;
* latex: a fragment for ``\\input`` into a document that loads ``amsmath`` (nothing else is
  needed): ``\\subsection*`` headings, ``align*`` blocks, ``pmatrix`` matrices, ASCII only.
"""

from __future__ import annotations

import re
import textwrap

import numpy as np

from chainrule.explain.worked import Block, Equation, Section, WorkedExample
from chainrule.reporting.expr import (
    Expr,
    Style,
    change_digits,
    format_number,
    latex_escape,
    latex_number,
)

FORMATS = ("text", "markdown", "latex")
TEXT_WIDTH = 100
#: An equation longer than this many characters is broken after each ``=``: in the terminal,
#: and (measured on its text form) on a LaTeX page, which holds about 70 characters of math.
LONG_EQUATION = 100
LATEX_LONG_EQUATION = 60
#: Rows per align* environment (align* cannot break across a page).
LATEX_ROWS_PER_ALIGN = 12


def render(record: WorkedExample, fmt: str = "text", digits: int = 4) -> str:
    """The whole worked example in ``fmt`` (text, markdown or latex)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
        raise ValueError(f"digits must be an integer from 1 to 17, got {digits!r}")
    renderer = {"text": TextRenderer, "markdown": MarkdownRenderer, "latex": LatexRenderer}[fmt]
    return renderer(digits).document(record)


def _sections(record: WorkedExample) -> list[tuple[int, str, Section | None]]:
    """(heading level, heading, section) in printing order; section None: heading only."""
    items: list[tuple[int, str, Section | None]] = [(1, "Network", record.overview)]
    count = len(record.steps)
    for step in record.steps:
        items.append((1, f"Step {step.number} of {count}", None))
        items += [(2, section.title, section) for section in step.sections]
    items.append((1, "Summary", record.summary))
    return items


def _value_digits(equation: Equation, digits: int) -> int:
    if equation.reference is None:
        return digits
    return change_digits(equation.value, equation.reference, digits)


def _entries(group: list[tuple], digits: int) -> list[tuple[Expr, np.ndarray, np.ndarray]]:
    """(name, values, digits per value) for each matrix of a group."""
    result = []
    for entry in group:
        name, values = entry[0], np.asarray(entry[1], dtype=np.float64)
        reference = entry[2] if len(entry) > 2 else None
        if reference is None:
            places = np.full(values.shape, digits)
        else:
            places = np.vectorize(lambda new, old: change_digits(new, old, digits))(
                values, np.asarray(reference, dtype=np.float64)
            )
        result.append((name, values, places))
    return result


def _header_lines(record: WorkedExample, digits: int) -> tuple[str, str, str]:
    title = record.spec.title or "Worked example"
    source = record.source or "(spec given in code)"
    precision = (
        f"Computed in float64; numbers shown rounded to {digits} significant digit"
        f"{'s' * (digits != 1)}."
    )
    return title, source, precision


# -- text ------------------------------------------------------------------------------------
class TextRenderer:
    def __init__(self, digits: int) -> None:
        self.style = Style("text", digits)

    def document(self, record: WorkedExample) -> str:
        title, source, precision = _header_lines(record, self.style.digits)
        lines = [f"chainrule explain {source}", title, precision]
        if record.spec.description:
            lines += textwrap.wrap(record.spec.description, TEXT_WIDTH)
        for level, heading, section in _sections(record):
            lines.append("")
            if level == 1:
                lines += [heading.upper(), "=" * len(heading)]
            else:
                lines += [heading, "-" * len(heading)]
            if section is not None:
                for block in section.blocks:
                    lines += self.block(block)
        return "\n".join(lines).rstrip() + "\n"

    def inline(self, segments: tuple) -> str:
        return "".join(s if isinstance(s, str) else s.render(self.style) for s in segments)

    def block(self, block: Block) -> list[str]:
        lines = [f"  {block.title}"]
        lines += [f"    {formula.render(self.style)}" for formula in block.formulas]
        for note in block.notes:
            lines += textwrap.wrap(
                self.inline(note), TEXT_WIDTH, initial_indent="    ", subsequent_indent="    "
            )
        if len(lines) > 1 and (block.matrices or block.equations):
            lines.append("")  # the general formulas, then the numbers
        for group in block.matrices:
            lines += ["    " + line for line in self.matrix_group(group)]
        lines += self.equations(block.equations)
        lines.append("")
        return lines

    def equations(self, equations: list[Equation]) -> list[str]:
        if not equations:
            return []
        lhs = [equation.lhs.render(self.style) for equation in equations]
        width = max(len(text) for text in lhs)
        lines = []
        for left, equation in zip(lhs, equations, strict=True):
            relation = "←" if equation.relation == "<-" else "="
            parts = [form.render(self.style) for form in equation.rhs]
            parts.append(format_number(equation.value, _value_digits(equation, self.style.digits)))
            line = f"    {left:<{width}} {relation} " + " = ".join(parts)
            if len(line) <= LONG_EQUATION or len(parts) == 1:
                lines.append(line)
                continue
            lines.append(f"    {left:<{width}} {relation} {parts[0]}")
            for part in parts[1:-1]:
                lines.append(f"    {'':<{width}} = {part}")
            lines[-1] += f" = {parts[-1]}"
        return lines

    def matrix_group(self, group: list[tuple]) -> list[str]:
        entries = _entries(group, self.style.digits)
        if all(values.ndim == 1 for _, values, _ in entries):
            return [
                "   ".join(
                    f"{name.render(self.style)} = [{', '.join(_formatted(values, places))}]"
                    for name, values, places in entries
                )
            ]
        pieces = [self.matrix(name.render(self.style), v, p) for name, v, p in entries]
        height = max(len(piece) for piece in pieces)
        widths = [max(len(line) for line in piece) for piece in pieces]
        lines = []
        for row in range(height):
            cells = [
                (piece[row] if row < len(piece) else "").ljust(width)
                for piece, width in zip(pieces, widths, strict=True)
            ]
            lines.append("   ".join(cells).rstrip())
        return lines

    def matrix(self, name: str, values: np.ndarray, places: np.ndarray) -> list[str]:
        cells = _formatted(_as_rows(values), _as_rows(places), flat=False)
        widths = [max(len(row[c]) for row in cells) for c in range(len(cells[0]))]
        body = [
            "[" + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + "]"
            for row in cells
        ]
        prefix = f"{name} = "
        return [(prefix if r == 0 else " " * len(prefix)) + line for r, line in enumerate(body)]


def _as_rows(values: np.ndarray) -> np.ndarray:
    """A matrix as it is; a vector as a column (the textbook's b and z are columns)."""
    return values if values.ndim == 2 else values.reshape(-1, 1)


def _formatted(values: np.ndarray, places: np.ndarray, flat: bool = True, latex: bool = False):
    number = latex_number if latex else format_number
    if flat:
        return [number(v, int(p)) for v, p in zip(values.ravel(), places.ravel(), strict=True)]
    return [
        [number(v, int(p)) for v, p in zip(row, row_places, strict=True)]
        for row, row_places in zip(values, places, strict=True)
    ]


# -- markdown --------------------------------------------------------------------------------
class MarkdownRenderer:
    def __init__(self, digits: int) -> None:
        self.style = Style("text", digits)

    def document(self, record: WorkedExample) -> str:
        title, source, precision = _header_lines(record, self.style.digits)
        lines = [f"# {_md_escape(title)}", "", f"Spec: `{source}`. {precision}", ""]
        if record.spec.description:
            lines += [_md_escape(record.spec.description), ""]
        for level, heading, section in _sections(record):
            lines += [f"{'#' * (level + 1)} {_md_escape(heading)}", ""]
            if section is not None:
                for block in section.blocks:
                    lines += self.block(block)
        return "\n".join(lines).rstrip() + "\n"

    def inline(self, segments: tuple) -> str:
        return "".join(
            _md_escape(s) if isinstance(s, str) else f"`{s.render(self.style)}`" for s in segments
        )

    def block(self, block: Block) -> list[str]:
        lines = [f"**{_md_escape(block.title)}**", ""]
        if block.formulas:
            lines += [f"- `{formula.render(self.style)}`" for formula in block.formulas]
            lines.append("")
        for note in block.notes:
            lines += [self.inline(note), ""]
        for group in block.matrices:
            lines += self.matrix_group(group)
            lines.append("")
        if block.equations:
            for equation in block.equations:
                relation = "←" if equation.relation == "<-" else "="
                parts = [form.render(self.style) for form in equation.rhs]
                digits = _value_digits(equation, self.style.digits)
                parts.append(format_number(equation.value, digits))
                text = f"{equation.lhs.render(self.style)} {relation} " + " = ".join(parts)
                lines.append(f"- `{text}`")
            lines.append("")
        return lines

    def matrix_group(self, group: list[tuple]) -> list[str]:
        entries = _entries(group, self.style.digits)
        first = entries[0][1]
        if first.ndim == 1:
            return [
                ", ".join(
                    f"`{name.render(self.style)} = [{', '.join(_formatted(values, places))}]`"
                    for name, values, places in entries
                )
            ]
        rows, columns = first.shape
        names = [name.render(self.style) for name, _, _ in entries]
        header = ["neuron"] + [f"{names[0]}[j,{c + 1}]" for c in range(columns)] + names[1:]
        lines = [
            "| " + " | ".join(header) + " |",
            "| ---: |" + " ---: |" * (len(header) - 1),
        ]
        for r in range(rows):
            cells = [f"j = {r + 1}"]
            cells += _formatted(first[r], entries[0][2][r])
            cells += [_formatted(v[r : r + 1], p[r : r + 1])[0] for _, v, p in entries[1:]]
            lines.append("| " + " | ".join(cells) + " |")
        return lines


def _md_escape(text: str) -> str:
    """Prose safe in Markdown: no emphasis, code or HTML, with as few backslashes as that takes
    (an underscore inside a word such as n_in never starts emphasis)."""
    text = re.sub(r"([\\*`])", r"\\\1", text)
    text = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)
    text = re.sub(r"<(?=[A-Za-z/!?])", r"\\<", text)
    return re.sub(r"^([#>+-])", r"\\\1", text)


# -- latex -----------------------------------------------------------------------------------
class LatexRenderer:
    def __init__(self, digits: int) -> None:
        self.style = Style("latex", digits)

    def document(self, record: WorkedExample) -> str:
        title, source, precision = _header_lines(record, self.style.digits)
        lines = [
            f"% Worked example written by chainrule explain from {_comment(source)}.",
            "% A document fragment: \\input it into a LaTeX document that loads amsmath.",
            f"\\subsection*{{{latex_escape(title)}}}",
            f"Spec: \\texttt{{{latex_escape(source)}}}. {latex_escape(precision)}",
            "",
        ]
        if record.spec.description:
            lines += [latex_escape(record.spec.description), ""]
        for level, heading, section in _sections(record):
            command = "subsection*" if level == 1 else "subsubsection*"
            lines += [f"\\{command}{{{latex_escape(heading)}}}", ""]
            if section is not None:
                for block in section.blocks:
                    lines += self.block(block)
        return "\n".join(lines).rstrip() + "\n"

    def inline(self, segments: tuple) -> str:
        return "".join(
            latex_escape(s) if isinstance(s, str) else f"\\({s.render(self.style)}\\)"
            for s in segments
        )

    def block(self, block: Block) -> list[str]:
        title = latex_escape(block.title)
        lines = [f"\\paragraph{{{title}}}"]
        for formula in block.formulas:
            lines.append(f"\\[ {formula.render(self.style)} \\]")
        for note in block.notes:
            lines += [self.inline(note), ""]
        for group in block.matrices:
            entries = _entries(group, self.style.digits)
            lines.append(
                "\\[ "
                + ", \\quad ".join(
                    f"{name.render(self.style)} = {self.matrix(values, places)}"
                    for name, values, places in entries
                )
                + " \\]"
            )
        # align* never breaks across pages, so long blocks go out in chunks of a few rows.
        chunk: list[str] = []
        for equation in block.equations:
            chunk.append(self.equation(equation))
            if sum(row.count("\\\\") + 1 for row in chunk) >= LATEX_ROWS_PER_ALIGN:
                lines += self.align(chunk)
                chunk = []
        if chunk:
            lines += self.align(chunk)
        lines.append("")
        return lines

    @staticmethod
    def align(rows: list[str]) -> list[str]:
        return ["\\begin{align*}", " \\\\\n".join(rows), "\\end{align*}"]

    def equation(self, equation: Equation) -> str:
        relation = "\\leftarrow" if equation.relation == "<-" else "="
        lhs = equation.lhs.render(self.style)
        parts = [form.render(self.style) for form in equation.rhs]
        parts.append(latex_number(equation.value, _value_digits(equation, self.style.digits)))
        plain = Style("text", self.style.digits)
        length = len(equation.lhs.render(plain)) + sum(
            len(form.render(plain)) for form in equation.rhs
        )
        if length <= LATEX_LONG_EQUATION or len(parts) == 1:
            return f"{lhs} &{relation} " + " = ".join(parts)
        lines = [f"{lhs} &{relation} {parts[0]}"]
        lines += [f"&= {part}" for part in parts[1:-1]]
        lines[-1] += f" = {parts[-1]}"
        return " \\\\\n".join(lines)

    def matrix(self, values: np.ndarray, places: np.ndarray) -> str:
        cells = _formatted(_as_rows(values), _as_rows(places), flat=False, latex=True)
        body = " \\\\ ".join(" & ".join(row) for row in cells)
        return f"\\begin{{pmatrix}} {body} \\end{{pmatrix}}"


def _comment(text: str) -> str:
    return text.replace("\n", " ").encode("ascii", "replace").decode("ascii")
