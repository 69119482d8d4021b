"""Plain Unicode text for a terminal: a :class:`~.document.Document` at most 100 columns wide.

Layout::

    Title of the document                 the title, underlined with =
    =====================

    SECTION                               a level-2 heading: capitals, underlined with =
    =======

    Subsection                            level 3, underlined with -
    ----------

    Prose wraps at the width; math is converted to Unicode (δ₂ W₂ᵀ) and never split.

      Z₁ = X W₁ + b₁     m×64   dense_1    displays (equations, tables, code) sit two in;
      A₁ = σ(Z₁)         m×64   sigmoid    an equation group lines up lhs, =, rhs, shape, note

      Run-in heading                      level 4: the title of one step of a worked solution,
        its formulas and notes            two in, with its formulas and notes on the lines
                                          below it, four in, and after one blank line
        a1[1] = ReLU(0.49) = 0.49         its numbers (equations, matrices)

A chain ``lhs = a = b = value`` too long for the line breaks before each ``=``, the value
staying on the line of the step before it.
"""

from __future__ import annotations

from chainrule.reporting.document import (
    Block,
    Code,
    Document,
    Equations,
    Figure,
    Heading,
    Inline,
    Math,
    Paragraph,
    Table,
)
from chainrule.reporting.tex_text import display_width

__all__ = ["TEXT_WIDTH", "to_text"]

TEXT_WIDTH = 100
#: The right-hand sides of an equation group are padded to a common width up to this many
#: columns, so that shapes and notes line up without pushing them off the line.
RHS_COLUMN = 44
#: Prose and displays (equations, tables, code) start this far in; inside a run-in block both
#: start RUN_IN columns in, under the block's heading at 2.
PROSE_INDENT, DISPLAY_INDENT, RUN_IN = 0, 2, 4
_NO_BREAK = "\u00a0"  # keeps an inline formula on one line until the wrap is done


def to_text(document: Document, width: int = TEXT_WIDTH) -> str:
    """``document`` as plain text lines of at most ``width`` columns (long words excepted)."""
    chunks: list[str] = []  # joined by one blank line
    if document.title:
        chunks.append(_underlined(document.title, "="))
    run_in: list[str] | None = None  # lines of the run-in block being written
    last_kind: str | None = None
    for block in document.blocks:
        if isinstance(block, Heading):
            if run_in is not None:
                chunks.append("\n".join(run_in))
                run_in = None
            if block.level >= 4:
                run_in, last_kind = [" " * 2 + _inline(block.text)], None
            else:
                chunks.append(_heading(block))
        elif run_in is None:
            chunks.append(_block(block, PROSE_INDENT, DISPLAY_INDENT, width))
        else:
            # a run-in block is set tight: one blank line only between its prose and numbers
            kind = "prose" if _is_prose(block) else "display"
            if last_kind is not None and kind != last_kind:
                run_in.append("")
            run_in += _block(block, RUN_IN, RUN_IN, width).split("\n")
            last_kind = kind
    if run_in is not None:
        chunks.append("\n".join(run_in))
    return "\n\n".join(chunks) + "\n"


def _is_prose(block: Block) -> bool:
    return isinstance(block, Paragraph) or (isinstance(block, Equations) and not block.aligned)


def _heading(block: Heading) -> str:
    if block.level == 2:
        return _underlined(_inline(block.text, upper=True), "=")
    return _underlined(_inline(block.text), "=" if block.level == 1 else "-")


def _underlined(title: str, rule: str) -> str:
    return title + "\n" + rule * display_width(title)


def _block(block: Block, prose_indent: int, display_indent: int, width: int) -> str:
    if isinstance(block, Paragraph):
        text = _wrap(_inline(block.content, keep_math_together=True), width - prose_indent)
        return _indent(text, prose_indent)
    if isinstance(block, Equations):
        return _equations(block, " " * display_indent, width)
    if isinstance(block, Table):
        return _table(block, " " * display_indent, width)
    if isinstance(block, Code):
        code = _indent(block.text, display_indent)
        return f"{' ' * prose_indent}{block.summary}:\n{code}" if block.summary else code
    if isinstance(block, Figure):
        caption = _inline(block.caption)
        figure = f"[Figure: {caption} ({block.path})]"
        return _indent(_wrap(figure, width - display_indent), display_indent)
    raise TypeError(f"no text form for {type(block).__name__}")


def _inline(
    content: tuple[Inline, ...], keep_math_together: bool = False, upper: bool = False
) -> str:
    """Inline content as text; with ``keep_math_together`` a formula's spaces do not break."""
    pieces = []
    for piece in content:
        if isinstance(piece, Math):
            text = piece.plain
            pieces.append(text.replace(" ", _NO_BREAK) if keep_math_together else text)
        elif isinstance(piece, str):
            pieces.append(piece.upper() if upper else piece)
        else:
            pieces.append(piece.text)
    return "".join(pieces)


# --------------------------------------------------------------------------- equations


def _equations(block: Equations, margin: str, width: int) -> str:
    rows = [
        (
            row.lhs.plain,
            row.rel.plain if row.rel is not None else "",
            [side.plain for side in row.rhs],
            "×".join(map(str, row.shape)) if row.shape else "",
            _inline(row.note, keep_math_together=True),
        )
        for row in block.rows
    ]
    if not block.aligned:
        lines = []
        for lhs, rel, sides, shape, note in rows:
            line = " ".join(part for part in (lhs, rel, " = ".join(sides)) if part)
            extra = "   ".join(part for part in (shape, note.replace(_NO_BREAK, " ")) if part)
            lines.append(f"{margin}{line}" + (f"   {extra}" if extra else ""))
        return "\n".join(lines)

    lhs_width = max(display_width(row[0]) for row in rows)
    rhs_width = min(RHS_COLUMN, max(display_width(" = ".join(row[2])) for row in rows))
    shape_width = max(display_width(row[3]) for row in rows)
    lines: list[str] = []
    for lhs, rel, sides, shape, note in rows:
        head = f"{margin}{_pad(lhs, lhs_width)}" + (f" {rel}" if rel else "")
        rhs = " = ".join(sides)
        if len(sides) > 1 and display_width(f"{head} {rhs}") > width:
            lines.append(f"{head} {sides[0]}")
            lines += [f"{margin}{' ' * lhs_width} = {side}" for side in sides[1:-1]]
            lines[-1] += f" = {sides[-1]}"
            extra = "   ".join(part for part in (shape, note.replace(_NO_BREAK, " ")) if part)
            lines[-1] += f"   {extra}" if extra else ""
            continue
        line = f"{head} {_pad(rhs, rhs_width)}"
        if shape_width:
            line += f"   {_pad(shape, shape_width)}"
        if note and display_width(line) + 3 + display_width(note) > width:
            lines.append(line.rstrip())  # the note goes on its own lines, indented
            indent = " " * (len(margin) + 2 + lhs_width)
            wrapped = _wrap(note, width - len(indent))
            lines += [indent + part for part in wrapped.split("\n")]
            continue
        if note:
            line += "   " + note.replace(_NO_BREAK, " ")
        lines.append(line.rstrip())
    return "\n".join(lines)


# --------------------------------------------------------------------------- tables


def _table(block: Table, margin: str, width: int) -> str:
    cells = [[_inline(cell) for cell in block.header]]
    cells += [[_inline(cell) for cell in row] for row in block.rows]
    widths = [max(display_width(row[i]) for row in cells) for i in range(len(block.header))]

    def line(row: list[str]) -> str:
        parts = [
            _pad(cell, w, right=align == "r")
            for cell, w, align in zip(row, widths, block.align, strict=True)
        ]
        return (margin + "   ".join(parts)).rstrip()

    lines = [line(row) for row in cells]
    lines.insert(1, margin + "   ".join("─" * w for w in widths))
    if block.caption:
        lines.append(_indent(_wrap(_inline(block.caption), width - len(margin)), len(margin)))
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def _pad(text: str, width: int, right: bool = False) -> str:
    space = " " * max(0, width - display_width(text))
    return space + text if right else text + space


def _indent(text: str, columns: int) -> str:
    prefix = " " * columns
    return "\n".join(prefix + line if line else line for line in text.split("\n"))


def _wrap(text: str, width: int) -> str:
    """Words on lines of at most ``width`` columns; a word is never split."""
    lines: list[str] = []
    for paragraph_line in text.split("\n"):
        line = ""
        for word in paragraph_line.split(" "):
            if line and display_width(line) + 1 + display_width(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "\n".join(lines).replace(_NO_BREAK, " ")
