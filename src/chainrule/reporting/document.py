"""One document model for everything chainrule writes for people to read.

Run reports, sweep reports, ``chainrule derive`` and ``chainrule explain`` all build a
:class:`Document` — a title and a list of blocks — and hand it to one renderer per format::

    Heading(text, level)         2 a section, 3 a subsection, 4 a run-in heading (a step's title)
    Paragraph(content)           prose: plain text, inline Math and InlineCode
    Equations(rows, aligned)     displayed math, one Equation a row: lhs rel rhs = … (shape) note
    Table(header, rows, align)   cells are inline content; align "lrr" per column
    Figure(path, caption)        an image file by relative path (and its SVG, if any)
    Code(text, summary)          verbatim text: a recipe, a model summary, a traceback

Inline content is a ``str`` — plain text, shown literally: every renderer escapes it — or a
sequence of ``str``, :class:`Math` and :class:`InlineCode` pieces. :func:`prose` builds that
sequence from markup, ``prose("the delta $\\delta_1$ of `dense_1`")``.

Math is written once in TeX (what LaTeX shows, and Markdown between ``$``) with an optional
plain form for terminals and HTML; without one the plain form is ``tex_to_text(tex)``.
``Math.of(expr, digits)`` takes both forms from an expression tree (:mod:`.expr`).

:func:`chainrule.reporting.formats.render` writes a document in one of its ``FORMATS``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chainrule.reporting.expr import Expr, Style
from chainrule.reporting.tex_text import tex_to_text

__all__ = [
    "Block",
    "Code",
    "Document",
    "Equation",
    "Equations",
    "Figure",
    "Heading",
    "InlineCode",
    "Math",
    "Paragraph",
    "Table",
    "inline",
    "plain_text",
    "prose",
]


# --------------------------------------------------------------------------- inline content


@dataclass(frozen=True)
class Math:
    """Inline or displayed math: ``tex`` for LaTeX and Markdown, ``text`` for plain output."""

    tex: str
    text: str | None = None

    @classmethod
    def of(cls, expr: Expr, digits: int = 4) -> Math:
        """Both forms of an expression tree, numbers shown to ``digits`` significant digits."""
        return cls(expr.render(Style("latex", digits)), expr.render(Style("text", digits)))

    @property
    def plain(self) -> str:
        """The plain-text form: ``text`` when given, else the TeX converted to Unicode."""
        return self.text if self.text is not None else tex_to_text(self.tex)


@dataclass(frozen=True)
class InlineCode:
    """A name or a literal shown in a monospace font: a layer name, a file path, a key."""

    text: str


Inline = str | Math | InlineCode
#: What a paragraph, heading, table cell or note holds: plain text, or pieces of inline content.
Content = str | Sequence[Inline]

_MATH_OR_CODE = re.compile(r"(\$[^$]*\$|`[^`]*`)")


def prose(markup: str) -> tuple[Inline, ...]:
    """Inline content from markup: ``$…$`` is TeX math, ```…``` a name; the rest plain text.

    >>> prose("the delta $\\\\delta_1$ of `dense_1`")
    ('the delta ', Math(tex='\\\\delta_1', text=None), ' of ', InlineCode(text='dense_1'))
    """
    pieces: list[Inline] = []
    for part in _MATH_OR_CODE.split(markup):
        if not part:
            continue
        if part.startswith("$") and part.endswith("$") and len(part) > 1:
            pieces.append(Math(part[1:-1]))
        elif part.startswith("`") and part.endswith("`") and len(part) > 1:
            pieces.append(InlineCode(part[1:-1]))
        else:
            pieces.append(part)
    return tuple(pieces)


def inline(content: Content) -> tuple[Inline, ...]:
    """``content`` as a tuple of pieces; a plain ``str`` becomes one piece of plain text."""
    if isinstance(content, str):
        return (content,) if content else ()
    if not isinstance(content, Sequence):
        raise TypeError(
            f"inline content must be a str or a sequence of str, Math and InlineCode, "
            f"got {type(content).__name__}"
        )
    for piece in content:
        if not isinstance(piece, str | Math | InlineCode):
            raise TypeError(
                f"inline content may hold str, Math and InlineCode pieces, got "
                f"{type(piece).__name__} ({piece!r})"
            )
    return tuple(content)


def plain_text(content: Sequence[Inline]) -> str:
    """Inline content as one plain string (math in its plain form, names as they are)."""
    return "".join(
        piece if isinstance(piece, str) else piece.plain if isinstance(piece, Math) else piece.text
        for piece in content
    )


def _math(value: str | Math) -> Math:
    if isinstance(value, Math):
        return value
    if isinstance(value, str):
        return Math(value)
    raise TypeError(f"math must be a TeX str or a Math, got {type(value).__name__} ({value!r})")


def _set(block: Any, name: str, value: Any) -> None:
    object.__setattr__(block, name, value)  # normalizing a frozen dataclass in __post_init__


# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class Heading:
    """A section title. Level 2 is a section (level 1 is the document's title), 3 a
    subsection, 4 a run-in heading: the title of one step of a worked solution."""

    text: Content
    level: int = 2

    def __post_init__(self) -> None:
        _set(self, "text", inline(self.text))
        if isinstance(self.level, bool) or self.level not in range(1, 7):
            raise ValueError(f"Heading level must be an integer from 1 to 6, got {self.level!r}")


@dataclass(frozen=True)
class Paragraph:
    """Prose: plain text with inline math and names (see :func:`prose` for markup)."""

    content: Content

    def __post_init__(self) -> None:
        _set(self, "content", inline(self.content))


@dataclass(frozen=True)
class Equation:
    """One displayed equation: ``lhs rel rhs[0] = rhs[1] = …``, optionally with the shape of
    its value (``(m, 64)``, shown ``m × 64``) and a note in prose.

    ``lhs``, ``rel`` and each side are TeX strings or :class:`Math`. An equation given whole
    (a formula) is just ``Equation(formula)``: no relation, no right-hand side.
    """

    lhs: str | Math
    rel: str | Math | None = None
    rhs: str | Math | Sequence[str | Math] = ()
    shape: tuple[int | str, ...] | None = None
    note: Content = ()

    def __post_init__(self) -> None:
        _set(self, "lhs", _math(self.lhs))
        _set(self, "rel", None if self.rel in (None, "") else _math(self.rel))
        sides = (self.rhs,) if isinstance(self.rhs, str | Math) else tuple(self.rhs)
        _set(self, "rhs", tuple(_math(side) for side in sides))
        if self.rhs and self.rel is None:
            raise ValueError(f"Equation {self.lhs.tex!r} has a right-hand side but no relation")
        if self.shape is not None:
            _set(self, "shape", tuple(self.shape))
        _set(self, "note", inline(self.note))


@dataclass(frozen=True)
class Equations:
    """A group of displayed equations. ``aligned``: their relations line up in one column
    (LaTeX ``align*``); otherwise each is shown on its own (LaTeX ``\\[ … \\]``)."""

    rows: Sequence[Equation]
    aligned: bool = True

    def __post_init__(self) -> None:
        rows = tuple(self.rows)
        if not rows:
            raise ValueError("Equations needs at least one Equation row")
        for row in rows:
            if not isinstance(row, Equation):
                raise TypeError(f"Equations rows must be Equation, got {type(row).__name__}")
        _set(self, "rows", rows)


@dataclass(frozen=True)
class Table:
    """A table of inline content. ``align`` has one letter per column — ``l`` left, ``r``
    right (numbers), ``c`` centred — and defaults to all left; ``bold_rows`` are row indices
    to set in bold (a best epoch, the averages under per-class rows)."""

    header: Sequence[Content]
    rows: Sequence[Sequence[Content]]
    align: str = ""
    caption: Content = ()
    bold_rows: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        header = tuple(inline(cell) for cell in self.header)
        if not header:
            raise ValueError("Table needs at least one column in its header")
        rows = []
        for number, row in enumerate(self.rows, start=1):
            cells = tuple(inline(cell) for cell in row)
            if len(cells) != len(header):
                raise ValueError(
                    f"Table row {number} has {len(cells)} cells, the header {len(header)}"
                )
            rows.append(cells)
        align = self.align or "l" * len(header)
        if len(align) != len(header) or set(align) - set("lrc"):
            raise ValueError(
                f"Table align must be one letter l, r or c per column ({len(header)}), "
                f"got {self.align!r}"
            )
        _set(self, "header", header)
        _set(self, "rows", tuple(rows))
        _set(self, "align", align)
        _set(self, "caption", inline(self.caption))
        _set(self, "bold_rows", frozenset(self.bold_rows))


@dataclass(frozen=True)
class Figure:
    """An image by path relative to the document (forward slashes), with its caption; an SVG
    version, when there is one, is linked beside it."""

    path: str
    caption: Content
    svg_path: str | None = None

    def __post_init__(self) -> None:
        _set(self, "caption", inline(self.caption))


@dataclass(frozen=True)
class Code:
    """Verbatim text in a monospace font. With a ``summary`` the HTML folds it away under
    that line; ``language`` names it for Markdown's syntax highlighting."""

    text: str
    summary: str | None = None
    language: str = "text"


Block = Heading | Paragraph | Equations | Table | Figure | Code


@dataclass(frozen=True)
class Document:
    """A title and its blocks in reading order. ``origin`` says what wrote it and from what
    (a LaTeX comment at the top, the HTML page's footer); Markdown and text leave it out."""

    title: str
    blocks: Sequence[Block]
    origin: str = ""

    def __post_init__(self) -> None:
        blocks = tuple(self.blocks)
        for block in blocks:
            if not isinstance(block, Block):
                raise TypeError(
                    f"a Document holds Heading, Paragraph, Equations, Table, Figure and Code "
                    f"blocks, got {type(block).__name__}"
                )
        _set(self, "blocks", blocks)
