"""The worked example as a document: terminal text, Markdown, a LaTeX fragment or HTML.

``render(record, fmt, digits)`` builds one :class:`~chainrule.reporting.document.Document` from
the record and writes it with the shared renderers: the network, then per step the forward
pass, loss, backward pass, gradients, chain-rule paths, update and verification, then a
summary. Numbers are rounded only here, to ``digits`` significant digits (an updated value to
as many more as it takes to show its change).

Each record block becomes a run-in heading (its title), its general formulas (displayed
equations), its notes (paragraphs), its matrices, then its equations — aligned, one per
number. In a terminal::

      Layer 1: ReLU, 3 inputs -> 3 neurons
        z1 = W1 x + b1,  a1 = ReLU(z1)
        where ReLU(z) = max(0, z)

        a1[1] = ReLU(0.3*0.1 + 0.5*0.2 + 0.8*0.2 + 0.2) = ReLU(0.49) = 0.49

Matrices are the one thing each format draws its own way: bracketed columns in a terminal, a
table per layer in Markdown and HTML (one row per neuron), ``pmatrix`` in LaTeX. Markdown writes
the math as TeX between dollars (``$a^{(1)}_{1} = 0.3 \\cdot 0.1 + …$``), which Jupyter, GitHub
and VS Code typeset; the HTML page typesets the same TeX with the KaTeX it carries.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.record import Block, Equation, Section, StepRecord, WorkedExample
from chainrule.reporting import document as doc
from chainrule.reporting.display import register_document, rendered
from chainrule.reporting.expr import Expr, Style, change_digits, format_number, latex_number
from chainrule.reporting.formats import FORMATS, check_format
from chainrule.utils.validation import check_integer

__all__ = [
    "FORMATS",
    "equation_row",
    "render",
    "section_document",
    "step_document",
    "worked_document",
]


def render(record: WorkedExample, fmt: str = "text", digits: int = 4) -> str:
    """The whole worked example in ``fmt`` (one of ``FORMATS``: text, markdown, latex, html)."""
    check_format(fmt)
    _check_digits(digits)
    # a str that a notebook shows in fmt (and whose repr is the text, not one escaped line)
    return rendered(worked_document(record, fmt, digits), fmt)


def worked_document(record: WorkedExample, fmt: str = "text", digits: int = 4) -> doc.Document:
    """The worked example as a document, its matrices drawn the way ``fmt`` shows them."""
    check_format(fmt)
    _check_digits(digits)
    source = record.source or "(spec given in code)"
    precision = (
        f"Computed in float64; numbers shown rounded to {digits} significant digit"
        f"{'s' * (digits != 1)}."
    )
    # the precision on a line of its own in a terminal (a soft line break elsewhere)
    header = doc.Paragraph(("Spec: ", doc.InlineCode(source), f".\n{precision}"))
    blocks: list[doc.Block] = [header]
    if record.spec.description:
        blocks.append(doc.Paragraph(record.spec.description))
    for level, heading, section in _sections(record):
        blocks.append(doc.Heading(heading, level + 1))
        if section is not None:
            for block in section.blocks:
                blocks += _block(block, fmt, digits)
    return doc.Document(
        record.spec.title or "Worked example",
        blocks,
        origin=f"Worked example written by chainrule explain from {source}.",
    )


def step_document(step: StepRecord, fmt: str = "text", digits: int = 4) -> doc.Document:
    """One step of the worked example as a document: its sections (forward pass, loss,
    backward pass, gradients, paths, update, verification) under the step's title."""
    check_format(fmt)
    _check_digits(digits)
    blocks: list[doc.Block] = []
    for section in step.sections:
        blocks.append(doc.Heading(section.title, 2))
        for block in section.blocks:
            blocks += _block(block, fmt, digits)
    return doc.Document(f"Step {step.number}", blocks)


def section_document(section: Section, fmt: str = "text", digits: int = 4) -> doc.Document:
    """One section of the worked example (``WorkedExample.section``) as a document."""
    check_format(fmt)
    _check_digits(digits)
    blocks = [piece for block in section.blocks for piece in _block(block, fmt, digits)]
    return doc.Document(section.title, blocks)


def _check_digits(digits: int) -> None:
    check_integer(digits, "digits", minimum=1, maximum=17)


def _sections(record: WorkedExample) -> list[tuple[int, str, Section | None]]:
    """(heading level, heading, section) in printing order; section None: heading only."""
    items: list[tuple[int, str, Section | None]] = [(1, "Network", record.overview)]
    count = len(record.steps)
    for step in record.steps:
        items.append((1, f"Step {step.number} of {count}", None))
        items += [(2, section.title, section) for section in step.sections]
    items.append((1, "Summary", record.summary))
    return items


def _block(block: Block, fmt: str, digits: int) -> list[doc.Block]:
    """A record block: run-in title, formulas, notes, matrices, then the numbered equations."""
    out: list[doc.Block] = [doc.Heading(block.title, 4)]
    if block.formulas:
        formulas = [doc.Equation(doc.Math.of(formula, digits)) for formula in block.formulas]
        out.append(doc.Equations(formulas, aligned=False))
    for note in block.notes:
        pieces = [piece if isinstance(piece, str) else doc.Math.of(piece, digits) for piece in note]
        out.append(doc.Paragraph(pieces))
    if block.matrices:
        out += _matrices(block.matrices, fmt, digits)
    if block.maps:
        out += _maps(block.maps, fmt, digits)
    if block.equations:
        out.append(doc.Equations([equation_row(equation, digits) for equation in block.equations]))
    return out


def equation_row(equation: Equation, digits: int = 4) -> doc.Equation:
    """``lhs = form = form = value``, the value shown with enough digits to show a change:
    one equation of the record as every renderer (and the step-through page) shows it."""
    places = digits
    if equation.reference is not None:
        places = change_digits(equation.value, equation.reference, digits)
    value = doc.Math(latex_number(equation.value, places), format_number(equation.value, places))
    relation = doc.Math("\\leftarrow", "←") if equation.relation == "<-" else doc.Math("=", "=")
    sides = [doc.Math.of(form, digits) for form in equation.rhs]
    return doc.Equation(doc.Math.of(equation.lhs, digits), relation, [*sides, value])


# -- matrices ----------------------------------------------------------------------------------
def _matrices(groups: list[list[tuple]], fmt: str, digits: int) -> list[doc.Block]:
    """Each group of matrices shown side by side, drawn the way ``fmt`` can draw them."""
    entries = [_entries(group, digits) for group in groups]
    if fmt == "text":
        lines = [line for group in entries for line in _text_matrices(group, digits)]
        return [doc.Code("\n".join(lines))]
    if fmt == "latex":
        rows = [doc.Equation(doc.Math(_latex_matrices(group, digits))) for group in entries]
        return [doc.Equations(rows, aligned=False)]
    return [_table_matrices(group, digits) for group in entries]


def _maps(groups: list[list[tuple]], fmt: str, digits: int) -> list[doc.Block]:
    """Feature maps and kernels: as matrices in a terminal and in LaTeX; in Markdown and
    HTML a table each, its rows and columns numbered from 1 (a vector: one line)."""
    if fmt in ("text", "latex"):
        return _matrices(groups, fmt, digits)
    style = Style("text", digits)
    out: list[doc.Block] = []
    for group in groups:
        for name, values, places in _entries(group, digits):
            label = name.render(style)
            if values.ndim == 1:
                text = f"{label} = [{', '.join(_formatted(values, places))}]"
                out.append(doc.Paragraph((doc.InlineCode(text),)))
                continue
            # row/col, as the exercise sheet heads its grids: a kernel's axes are p, q, not i, j
            header = [label] + [f"col {c + 1}" for c in range(values.shape[1])]
            rows = [
                [f"row {r + 1}", *_formatted(values[r], places[r])] for r in range(values.shape[0])
            ]
            out.append(doc.Table(header, rows, align="r" * len(header)))
    return out


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


def _as_rows(values: np.ndarray) -> np.ndarray:
    """A matrix as it is; a vector as a column (the textbook's b and z are columns)."""
    return values if values.ndim == 2 else values.reshape(-1, 1)


def _formatted(values: np.ndarray, places: np.ndarray, latex: bool = False) -> list[str]:
    number = latex_number if latex else format_number
    return [number(v, int(p)) for v, p in zip(values.ravel(), places.ravel(), strict=True)]


def _text_matrices(entries: list, digits: int) -> list[str]:
    """Vectors as ``x = [0.3, 0.5]`` on one line; matrices as bracketed rows side by side."""
    style = Style("text", digits)
    if all(values.ndim == 1 for _, values, _ in entries):
        return [
            "   ".join(
                f"{name.render(style)} = [{', '.join(_formatted(values, places))}]"
                for name, values, places in entries
            )
        ]
    pieces = [_text_matrix(name.render(style), v, p) for name, v, p in entries]
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


def _text_matrix(name: str, values: np.ndarray, places: np.ndarray) -> list[str]:
    rows, row_places = _as_rows(values), _as_rows(places)
    cells = [_formatted(row, p) for row, p in zip(rows, row_places, strict=True)]
    widths = [max(len(row[c]) for row in cells) for c in range(len(cells[0]))]
    body = [
        "[" + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + "]" for row in cells
    ]
    prefix = f"{name} = "
    return [(prefix if r == 0 else " " * len(prefix)) + line for r, line in enumerate(body)]


def _table_matrices(entries: list, digits: int) -> doc.Block:
    """Vectors as code spans in a line; a matrix as a table, one row per neuron, with the
    group's vectors (a layer's biases) as further columns."""
    style = Style("text", digits)
    first = entries[0][1]
    if first.ndim == 1:
        pieces: list[doc.Inline] = []
        for name, values, places in entries:
            if pieces:
                pieces.append(", ")
            text = f"{name.render(style)} = [{', '.join(_formatted(values, places))}]"
            pieces.append(doc.InlineCode(text))
        return doc.Paragraph(pieces)
    rows, columns = first.shape
    names = [name.render(style) for name, _, _ in entries]
    header = ["neuron"] + [f"{names[0]}[j,{c + 1}]" for c in range(columns)] + names[1:]
    table_rows = []
    for r in range(rows):
        cells = [f"j = {r + 1}", *_formatted(first[r], entries[0][2][r])]
        cells += [_formatted(v[r : r + 1], p[r : r + 1])[0] for _, v, p in entries[1:]]
        table_rows.append(cells)
    return doc.Table(header, table_rows, align="r" * len(header))


def _latex_matrices(entries: list, digits: int) -> str:
    style = Style("latex", digits)
    return ", \\quad ".join(
        f"{name.render(style)} = {_pmatrix(values, places)}" for name, values, places in entries
    )


def _pmatrix(values: np.ndarray, places: np.ndarray) -> str:
    rows, row_places = _as_rows(values), _as_rows(places)
    body = " \\\\ ".join(
        " & ".join(_formatted(row, p, latex=True)) for row, p in zip(rows, row_places, strict=True)
    )
    return f"\\begin{{pmatrix}} {body} \\end{{pmatrix}}"


# A record and a step show themselves in a notebook (reporting.display.RichDisplay) through
# these; record.py cannot import this module, which imports it.
register_document(WorkedExample, worked_document)
register_document(StepRecord, step_document)
register_document(Section, section_document)
