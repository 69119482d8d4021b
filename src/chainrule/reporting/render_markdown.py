"""Markdown (GitHub-flavoured) for a :class:`~.document.Document`.

Headings are ``#`` lines (a level-4 run-in heading is a bold line), tables are pipe tables
with ``---:`` under right-aligned columns, equations are bullet items (a group of formulas
shown each on its own: ``$$…$$`` lines), code is fenced, figures are images with their
caption below. Plain text is escaped with as few backslashes as that takes: ``*``, a
backquote, a backslash, a ``$`` (it would open math), an ``_`` that could start emphasis
(never the one in ``he_normal``), the ``]`` of a link, the brackets of an HTML tag, and ``#``,
``>``, ``+``, ``-`` at the start of a line; ``|`` only in table cells.

Math is written one of two ways: ``math="tex"`` (the default) between dollars, ``$\\delta_2$``,
for pages that typeset it (GitHub, Jupyter, VS Code); ``math="code"`` as a code span of its
plain form, ```δ2 = 0.17```, which every viewer shows as written.

TeX between dollars is written so that it reaches the typesetter unchanged whichever way a
page reads Markdown. Jupyter and GitHub take math out before Markdown sees it, but a
renderer that does not know math treats a backslash before punctuation as an escape: so the
TeX commands spelled with punctuation get their names (``\\,`` is ``\\thinspace``, ``\\{`` is
``\\lbrace``, ``\\|`` is ``\\Vert``), which KaTeX and MathJax read the same — GitHub itself
drops the braces of ``\\{`` and shows ``\\:`` as a colon. ``<`` and ``>`` are ``\\lt`` and
``\\gt`` (``a <b`` would open an HTML tag) and ``](`` is ``]{}(`` (not a link). In a table
cell a ``|`` would end the cell before math is found, so there it is ``\\vert``. Products are
``\\cdot``, never ``*``, so arithmetic full of numbers holds nothing emphasis could take.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

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
)

__all__ = ["MATH_STYLES", "markdown_escape", "markdown_tex", "to_markdown"]

MATH_STYLES = ("tex", "code")

_SPECIAL = re.compile(
    r"[\\`*$]"  # code, emphasis, escapes, math
    r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"  # an underscore that could open or close emphasis
    r"|\](?=[(\[:])"  # the end of a link's text: [text](url), [text][ref], [ref]: url
    r"|<(?=[A-Za-z/!?])"  # the start of an HTML tag, comment or autolink
    r"|(?<![-=])>"  # the end of a tag (an arrow -> or => is left alone)
)
_LINE_START = re.compile(r"^([#>+-])", re.MULTILINE)
_LATER_LINE_START = re.compile(r"(?<=\n)([#>+-])")
_ALIGN = {"l": "---", "r": "---:", "c": ":---:"}
#: TeX commands spelled with punctuation -> the same command by name (see the module).
_NAMED = {
    "\\,": "\\thinspace",
    "\\:": "\\medspace",
    "\\>": "\\medspace",
    "\\;": "\\thickspace",
    "\\!": "\\negthinspace",
    "\\{": "\\lbrace",
    "\\}": "\\rbrace",
    "\\|": "\\Vert",
}
#: A line break (skipped), or a command spelled with punctuation and whether a letter follows
#: (then the name needs a space to end it).
_PUNCTUATION_COMMAND = re.compile(r"\\\\|\\[,:>;!{}|]([A-Za-z])?")


def markdown_escape(text: str, line_start: bool = True) -> str:
    """Plain text safe in Markdown: what Markdown would interpret gets a backslash.

    ``#``, ``>``, ``+`` and ``-`` are escaped at the start of a line (a heading, a quote, a
    list item); ``line_start=False`` says that ``text`` itself continues a line.
    """
    text = _SPECIAL.sub(lambda match: "\\" + match.group(0), text)
    return (_LINE_START if line_start else _LATER_LINE_START).sub(r"\\\1", text)


def to_markdown(document: Document, math: str = "tex") -> str:
    """``document`` as Markdown; ``math`` is ``"tex"`` or ``"code"`` (see the module)."""
    if math not in MATH_STYLES:
        raise ValueError(f"math must be one of {', '.join(MATH_STYLES)}, got {math!r}")
    parts = [f"# {markdown_escape(document.title)}"] if document.title else []
    parts += [_block(block, math) for block in document.blocks]
    return "\n\n".join(parts) + "\n"


def _block(block: Block, math: str) -> str:
    if isinstance(block, Heading):
        text = _inline(block.text, math)
        return f"**{text}**" if block.level >= 4 else f"{'#' * block.level} {text}"
    if isinstance(block, Paragraph):
        return _inline(block.content, math)
    if isinstance(block, Equations):
        return _equations(block, math)
    if isinstance(block, Table):
        return _table(block, math)
    if isinstance(block, Code):
        fence = _fence(block.text)
        code = f"{fence}{block.language}\n{block.text}\n{fence}"
        return f"{markdown_escape(block.summary)}:\n\n{code}" if block.summary else code
    if isinstance(block, Figure):
        caption = _inline(block.caption, math)
        figure = f"![{caption}]({_url(block.path)})\n\n*{caption}*"
        if block.svg_path:
            figure += f" ([SVG]({_url(block.svg_path)}))"
        return figure
    raise TypeError(f"no Markdown form for {type(block).__name__}")


def markdown_tex(tex: str, in_table: bool = False) -> str:
    """TeX as it goes between dollars: trimmed (``$ x$`` is no math on GitHub), commands
    spelled with punctuation by their names, ``<``, ``>`` and ``](`` kept from reading as
    HTML or a link, and in a table cell ``|`` as ``\\vert`` (see the module)."""

    def named(match: re.Match[str]) -> str:
        if match.group(0) == "\\\\":
            return match.group(0)  # a line break stays
        letter = match.group(1) or ""
        return _NAMED[match.group(0)[:2]] + (" " + letter if letter else "")

    def spaced(name: str) -> Callable[[re.Match[str]], str]:
        return lambda match: name + (" " if match.group(1) else "")

    tex = _PUNCTUATION_COMMAND.sub(named, tex.strip())
    # "<b" would open an HTML tag and "](" a link before GitHub sees math
    tex = re.sub(r"<(?=([A-Za-z]))?", spaced("\\lt"), tex)
    tex = re.sub(r">(?=([A-Za-z]))?", spaced("\\gt"), tex).replace("](", "]{}(")
    if in_table:
        tex = re.sub(r"\|(?=([A-Za-z]))?", spaced("\\vert"), tex)
    return tex


def _inline(
    content: tuple[Inline, ...], math: str, line_start: bool = True, in_table: bool = False
) -> str:
    pieces = []
    for index, piece in enumerate(content):
        if isinstance(piece, str):
            pieces.append(markdown_escape(piece, line_start=line_start and index == 0))
        elif isinstance(piece, Math):
            tex = markdown_tex(piece.tex, in_table)
            pieces.append(f"${tex}$" if math == "tex" else _code_span(piece.plain))
        else:
            pieces.append(_code_span(piece.text))
    return "".join(pieces)


def _url(path: str) -> str:
    """A relative path URL-quoted; an image already inline (``data:``, base64 has no space
    or parenthesis to quote) as it is."""
    return path if path.startswith("data:") else quote(path)


def _code_span(text: str) -> str:
    if "`" not in text:
        return f"`{text}`"
    longest = max(len(run) for run in re.findall(r"`+", text))
    ticks = "`" * (longest + 1)
    return f"{ticks} {text} {ticks}"


def _equations(block: Equations, math: str) -> str:
    """Aligned rows as bullets; formulas shown each on its own as ``$$…$$`` paragraphs (a
    row with a shape or a note stays a bullet, where its prose can follow)."""
    if math == "tex" and not block.aligned:
        lines = [
            f"$${markdown_tex(_tex(row))}$$"
            if row.shape is None and not row.note
            else _equation(row, math)
            for row in block.rows
        ]
        return "\n\n".join(lines)
    return "\n".join(_equation(row, math) for row in block.rows)


def _tex(row: Equation) -> str:
    text = row.lhs.tex
    if row.rel is not None:
        text += f" {row.rel.tex} " + " = ".join(side.tex for side in row.rhs)
    return text


def _equation(row: Equation, math: str) -> str:
    """One bullet: ``- $lhs = rhs$ $(m \\times 64)$ — note`` (or code spans of plain text)."""
    if math == "tex":
        line = f"- ${markdown_tex(_tex(row))}$"
        if row.shape is not None:
            shape = r" \times ".join(str(size) for size in row.shape) if row.shape else "1"
            line += f" $({shape})$"
    else:
        text = row.lhs.plain
        if row.rel is not None:
            text += f" {row.rel.plain} " + " = ".join(side.plain for side in row.rhs)
        line = f"- {_code_span(text)}"
        if row.shape is not None:
            line += f" {_code_span('(' + ('×'.join(map(str, row.shape)) or '1') + ')')}"
    if row.note:
        line += " — " + _inline(row.note, math, line_start=False)
    return line


def _table(block: Table, math: str) -> str:
    def cell(content: tuple[Inline, ...], bold: bool = False) -> str:
        text = _inline(content, math, line_start=False, in_table=True)
        text = text.replace("|", "\\|").replace("\n", " ")
        return f"**{text}**" if bold and text else text

    lines = [
        "| " + " | ".join(cell(header) for header in block.header) + " |",
        "| " + " | ".join(_ALIGN[align] for align in block.align) + " |",
    ]
    for index, row in enumerate(block.rows):
        bold = index in block.bold_rows
        lines.append("| " + " | ".join(cell(content, bold) for content in row) + " |")
    if block.caption:
        lines += ["", f"*{_inline(block.caption, math)}*"]
    return "\n".join(lines)


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)
