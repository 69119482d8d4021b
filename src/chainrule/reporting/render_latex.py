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

__all__ = [
    "LONG_EQUATION",
    "NOTE_WIDTH",
    "ROWS_PER_ALIGN",
    "WRAP_WIDTH",
    "latex_escape",
    "split_terms",
    "to_latex",
]

#: Rows per align* environment (align* cannot break across a page).
ROWS_PER_ALIGN = 12
#: A chain ``lhs = a = b = value`` whose plain form (value left out) is longer than this many
#: characters breaks after each ``=``: a page holds about 70 characters of math.
LONG_EQUATION = 60
#: A note up to this many characters goes on its equation's row, a longer one after the group.
NOTE_WIDTH = 44
#: A side wider than this (in digits of the math font, ``lhs = `` included; a page of the
#: 10pt article class holds about 68) wraps at its top-level ``+``/``-`` into continuation
#: lines ``&\quad {}+ …``; displayed equations side by side go one under the other.
WRAP_WIDTH = 64
#: Continuation lines hold at least this many characters, however wide the left-hand side.
MIN_WRAP = 30

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
        cuts = _top_level(math, (", \\quad ",)) if _tex_width(math) > WRAP_WIDTH else []
        if cuts:  # side by side they overflow the line: one under the other
            parts = [math[a:b] for a, b in zip([0, *cuts], [*cuts, len(math)], strict=True)]
            parts = [part.removeprefix(", \\quad ") for part in parts]
            body = ", \\\\\n".join(f"  {part}" for part in parts)
            lines.append(f"\\begin{{gather*}}\n{body}\n\\end{{gather*}}")
        else:
            lines.append(f"\\[ {math} \\]")
    return "\n".join(lines)


def _aligned(rows: tuple[Equation, ...]) -> str:
    chunks: list[list[str]] = [[]]
    long_notes = []
    # the sides of every row start after the widest left-hand side and its "= "
    indent = max((_tex_width(row.lhs.tex) for row in rows), default=0) + 3
    for row in rows:
        rel = row.rel.tex if row.rel is not None else ""
        sides = [side.tex for side in row.rhs]
        length = display_width(row.lhs.plain) + sum(
            display_width(side.plain) for side in row.rhs[:-1]
        )
        widths = [_tex_width(side) for side in sides]
        wide = any(indent + width > WRAP_WIDTH for width in widths)
        if (len(sides) > 1 and length > LONG_EQUATION) or wide:
            # one side per line (the final value stays on the line before it, unless wide),
            # each side too wide for a line wrapped at its top-level + and -
            last = len(sides) - 1 if len(sides) > 1 and indent + widths[-1] <= WRAP_WIDTH else None
            lines = []
            for index, side in enumerate(sides):
                if index == last:
                    lines[-1] += f" = {side}"
                    continue
                first, *rest = _wrapped(side, max(WRAP_WIDTH - indent, MIN_WRAP))
                lead = f"{row.lhs.tex} &{rel} " if index == 0 else "&= "
                lines += [lead + first, *(f"&\\quad {{}}{piece}" for piece in rest)]
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


def _wrapped(tex: str, width: float) -> list[str]:
    """``tex`` in lines of about ``width`` plain characters, broken only before a top-level
    ``+`` or ``-`` (a term longer than a line gets a line of its own)."""
    lines: list[list[str]] = [[]]
    used = 0
    for term in split_terms(tex):
        size = _tex_width(term) + 1
        if lines[-1] and used + size > width:
            lines.append([])
            used = 0
        lines[-1].append(term)
        used += size
    return [" ".join(line) for line in lines]


def split_terms(tex: str) -> list[str]:
    """The terms of a sum written in TeX, each after the first starting with its ``+ ``/``- ``.

    Only a `` + `` or `` - `` outside every group counts: not inside ``{…}``, ``(…)``,
    ``[…]`` (``\\left(…\\right)`` included) or ``\\begin…\\end``, so
    ``a \\cdot \\left(b - c\\right) + d`` has the two terms ``a \\cdot \\left(b - c\\right)`` and
    ``+ d``. A minus sign of a number (``-0.2``, no space after it) is no break. The terms joined
    by spaces give ``tex`` back.
    """
    cuts = _top_level(tex, (" + ", " - "))
    return [tex[a:b].strip(" ") for a, b in zip([0, *cuts], [*cuts, len(tex)], strict=True)]


def _top_level(tex: str, tokens: tuple[str, ...]) -> list[int]:
    """Where one of ``tokens`` starts outside every group of ``tex`` (see :func:`split_terms`),
    never at the very start."""
    found, depth, i = [], 0, 0
    while i < len(tex):
        if tex.startswith(("\\begin{", "\\end{"), i):
            depth += 1 if tex.startswith("\\begin{", i) else -1
            i = tex.find("}", i) + 1 or len(tex)
            continue
        char = tex[i]
        if char == "\\":
            i += 2  # an escaped character (\{, \%) or the first letter of a command
            continue
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        elif depth == 0 and i > 0 and tex.startswith(tokens, i):
            found.append(i)
        i += 1
    return found


#: Printed widths, in digits of the math font, of what is no one character wide.
_COMMAND_WIDTHS = {"left": 0, "right": 0, ",": 0.3, ";": 0.4, "!": 0, " ": 0.5, "quad": 2}
_FONT_COMMANDS = ("operatorname", "text", "mathrm", "mathbf", "mathcal", "mathit", "tilde", "hat")


def _tex_width(tex: str, scale: float = 1.0) -> float:
    """About how wide ``tex`` prints, in digits (a line of the page holds about 68): sub- and
    superscripts are smaller, a fraction is as wide as its wider part, a matrix as its
    columns."""
    width, i = 0.0, 0
    while i < len(tex):
        char = tex[i]
        if char == "\\":
            name, i = _command(tex, i + 1)
            if name == "frac":
                top, i = _group(tex, i)
                bottom, i = _group(tex, i)
                width += max(_tex_width(top, scale), _tex_width(bottom, scale))
            elif name == "begin":
                environment, i = _group(tex, i)
                close = tex.find(f"\\end{{{environment}}}", i)
                close = len(tex) if close < 0 else close
                width += _matrix_width(tex[i:close], scale)
                i = close + len(f"\\end{{{environment}}}")
            elif name in _FONT_COMMANDS:
                argument, i = _group(tex, i)
                width += _tex_width(argument, scale)
            else:
                width += _COMMAND_WIDTHS.get(name, 1) * scale
        elif char in "_^":
            script, i = _group(tex, i + 1)
            width += _tex_width(script, scale * 0.7)
        else:
            i += 1
            if char in "+=<>":
                width += 1.8 * scale  # a relation or binary operator has space around it
            elif char not in " {}":
                width += scale
    return width


def _command(tex: str, i: int) -> tuple[str, int]:
    """The name of the command whose backslash is just before ``i``, and where it ends."""
    end = i
    while end < len(tex) and tex[end].isalpha():
        end += 1
    return (tex[i:end], end) if end > i else (tex[i : i + 1], i + 1)


def _group(tex: str, i: int) -> tuple[str, int]:
    """The braced group (or single character) at ``i``, and where it ends."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex) or tex[i] != "{":
        return tex[i : i + 1], i + 1
    depth = 0
    for end in range(i, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[end], 0) if tex[end - 1] != "\\" else 0
        if depth == 0:
            return tex[i + 1 : end], end + 1
    return tex[i + 1 :], len(tex)


def _matrix_width(body: str, scale: float) -> float:
    rows = [row.split("&") for row in body.split("\\\\")]
    columns = max(len(row) for row in rows)
    cells = [
        [_tex_width(row[c], scale) if c < len(row) else 0 for row in rows] for c in range(columns)
    ]
    return sum(max(column) + 2 * scale for column in cells) + 2 * scale  # gaps and parentheses


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
