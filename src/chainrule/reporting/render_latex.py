"""A LaTeX fragment for a :class:`~.document.Document`: ``\\input`` it into a document that
loads ``amsmath`` (and ``graphicx`` when it has figures). The output is ASCII only.

The title is a ``\\section*``, level-2 headings ``\\subsection*``, level 3
``\\subsubsection*``, level 4 a run-in ``\\paragraph``. Prose is escaped by
:func:`latex_escape`, inline math goes between ``\\(`` and ``\\)``. An aligned equation group
is an ``align*`` of at most :data:`ROWS_PER_ALIGN` rows (``align*`` cannot break across a
page), with the shape and a short note on each row; a long note follows the group as prose.
Display math joins the prose around it with a single newline, so that the text after an
equation continues its paragraph.
"""

from __future__ import annotations

from chainrule.reporting.document import (
    Block,
    Code,
    Document,
    Equation,
    Equations,
    Figure,
    Heading,
    Inline,
    Math,
    Paragraph,
    Table,
    plain_text,
)
from chainrule.reporting.tex_text import display_width

__all__ = ["LONG_EQUATION", "NOTE_WIDTH", "ROWS_PER_ALIGN", "latex_escape", "to_latex"]

#: Rows per align* environment (align* cannot break across a page).
ROWS_PER_ALIGN = 12
#: A chain ``lhs = a = b = value`` whose plain form (value left out) is longer than this many
#: characters breaks after each ``=``: a page holds about 70 characters of math.
LONG_EQUATION = 60
#: A note up to this many characters goes on its equation's row, a longer one after the group.
NOTE_WIDTH = 44

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # the default OT1 font prints these three as other glyphs (¡, ¿, —)
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    # the non-ASCII characters chainrule's own prose uses, spelled in ASCII
    "—": "---",
    "–": "--",
    "’": "'",
    "‘": "`",
    "“": "``",
    "”": "''",
    "−": "-",
    "…": r"\dots{}",
    "→": r"\(\to\)",
    "←": r"\(\leftarrow\)",
    "×": r"\(\times\)",
    "·": r"\(\cdot\)",
    "≤": r"\(\le\)",
    "≥": r"\(\ge\)",
    "±": r"\(\pm\)",
    "‖": r"\(\|\)",
    "∂": r"\(\partial\)",
    "Σ": r"\(\Sigma\)",
    "α": r"\(\alpha\)",
    "β": r"\(\beta\)",
    "δ": r"\(\delta\)",
    "ε": r"\(\varepsilon\)",
    "η": r"\(\eta\)",
    "θ": r"\(\theta\)",
    "λ": r"\(\lambda\)",
    "μ": r"\(\mu\)",
    "ρ": r"\(\rho\)",
    "σ": r"\(\sigma\)",
}
_HEADINGS = {1: "section*", 2: "subsection*", 3: "subsubsection*"}


def latex_escape(text: str) -> str:
    """Plain text safe inside a LaTeX paragraph, in ASCII.

    The ten special characters are escaped, ``<``, ``>`` and ``|`` written as text commands,
    ``->`` as an arrow, the dashes, quotes, arrows, Greek letters and operators chainrule's
    prose uses spelled in ASCII (``—`` as ``---``, ``×`` as ``\\(\\times\\)``), and any other
    character outside ASCII replaced by ``?``.
    """
    pieces = ["".join(_SPECIAL.get(char, char) for char in part) for part in text.split("->")]
    escaped = r"\(\to\)".join(pieces)
    return escaped.encode("ascii", "replace").decode("ascii")


def to_latex(document: Document) -> str:
    """``document`` as a LaTeX fragment (see the module docstring)."""
    packages = "amsmath"
    if any(isinstance(block, Figure) for block in document.blocks):
        packages += " and graphicx"
    header = [f"% {_comment(document.origin)}"] if document.origin else []
    header.append(f"% A document fragment: \\input it into a LaTeX document that loads {packages}.")
    out = ["\n".join(header)]
    if document.title:
        out.append(f"\\section*{{{latex_escape(document.title)}}}")
    previous: Block | None = None
    for block in document.blocks:
        text = _block(block)
        if previous is not None and _continues(previous, block):
            out[-1] += "\n" + text
        else:
            out.append(text)
        previous = block
    return "\n\n".join(out) + "\n"


def _continues(previous: Block, block: Block) -> bool:
    """No blank line after a run-in heading, nor between display math and the prose around
    it: they form one paragraph."""
    if isinstance(previous, Heading):
        return previous.level >= 4
    kinds = {type(previous), type(block)}
    return Equations in kinds and kinds <= {Equations, Paragraph}


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        command = _HEADINGS.get(block.level, "paragraph")
        return f"\\{command}{{{_inline(block.text)}}}"
    if isinstance(block, Paragraph):
        return _inline(block.content)
    if isinstance(block, Equations):
        return _aligned(block.rows) if block.aligned else _displayed(block.rows)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Code):
        text = block.text.replace("\\end{verbatim}", "\\end {verbatim}")
        code = "\\begin{verbatim}\n" + _ascii(text) + "\n\\end{verbatim}"
        return f"{latex_escape(block.summary)}:\n{code}" if block.summary else code
    if isinstance(block, Figure):
        return (
            "\\begin{figure}[htbp]\n\\centering\n"
            f"\\includegraphics[width=\\linewidth]{{{_ascii(block.path)}}}\n"
            f"\\caption{{{_inline(block.caption)}}}\n\\end{{figure}}"
        )
    raise TypeError(f"no LaTeX form for {type(block).__name__}")


def _inline(content: tuple[Inline, ...]) -> str:
    pieces = []
    for piece in content:
        if isinstance(piece, str):
            pieces.append(latex_escape(piece))
        elif isinstance(piece, Math):
            pieces.append(f"\\({piece.tex}\\)")
        else:
            pieces.append(f"\\texttt{{{latex_escape(piece.text)}}}")
    return "".join(pieces)


# --------------------------------------------------------------------------- equations


def _shape(row: Equation) -> str:
    return r" \times ".join(str(size) for size in row.shape) if row.shape else "1"


def _displayed(rows: tuple[Equation, ...]) -> str:
    """Each equation on its own, ``\\[ … \\]``, one per line."""
    lines = []
    for row in rows:
        math = row.lhs.tex
        if row.rel is not None:
            math += f" {row.rel.tex} " + " = ".join(side.tex for side in row.rhs)
        if row.shape is not None:
            math += f" \\quad ({_shape(row)})"
        if row.note:
            math += r" \quad \text{" + _inline(row.note) + "}"
        lines.append(f"\\[ {math} \\]")
    return "\n".join(lines)


def _aligned(rows: tuple[Equation, ...]) -> str:
    chunks: list[list[str]] = [[]]
    long_notes = []
    for row in rows:
        rel = row.rel.tex if row.rel is not None else ""
        sides = [side.tex for side in row.rhs]
        length = display_width(row.lhs.plain) + sum(
            display_width(side.plain) for side in row.rhs[:-1]
        )
        if len(sides) > 1 and length > LONG_EQUATION:
            lines = [f"{row.lhs.tex} &{rel} {sides[0]}", *(f"&= {side}" for side in sides[1:-1])]
            lines[-1] += f" = {sides[-1]}"
        else:
            lines = [f"{row.lhs.tex} &{rel} {' = '.join(sides)}".rstrip()]
        extra = []
        if row.shape is not None:
            extra.append(f"({_shape(row)})")
        if row.note and display_width(plain_text(row.note)) <= NOTE_WIDTH:
            extra.append(r"\text{" + _inline(row.note) + "}")
        elif row.note:  # too long for the line: a paragraph after the equations
            long_notes.append(f"\\({row.lhs.tex}\\): " + _inline(row.note) + ".")
        if extra:
            lines[-1] += " && " + r" \quad ".join(extra)
        chunks[-1].append(" \\\\\n".join(f"  {line}" for line in lines))
        if sum(chunk_row.count("\n") + 1 for chunk_row in chunks[-1]) >= ROWS_PER_ALIGN:
            chunks.append([])
    aligns = [
        "\\begin{align*}\n" + " \\\\\n".join(chunk) + "\n\\end{align*}" for chunk in chunks if chunk
    ]
    return "\n\n".join(["\n".join(aligns), *long_notes])


# --------------------------------------------------------------------------- tables


def _table(block: Table) -> str:
    def row(cells: tuple[tuple[Inline, ...], ...], bold: bool = False) -> str:
        texts = [_inline(cell) for cell in cells]
        if bold:
            texts = [f"\\textbf{{{text}}}" if text else text for text in texts]
        return " & ".join(texts) + r" \\"

    lines = [f"\\begin{{tabular}}{{{block.align}}}", "\\hline", row(block.header), "\\hline"]
    lines += [row(cells, index in block.bold_rows) for index, cells in enumerate(block.rows)]
    lines += ["\\hline", "\\end{tabular}"]
    table = "\n".join(lines)
    return f"{table}\n\n{_inline(block.caption)}" if block.caption else table


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def _comment(text: str) -> str:
    return _ascii(text.replace("\n", " "))
