"""Rich display in Jupyter: what chainrule returns shows itself as a document.

Jupyter asks an object for ``_repr_html_``, ``_repr_markdown_`` and ``_repr_latex_`` and shows
the richest its front end can draw (HTML in JupyterLab, Notebook and VS Code; LaTeX when
nbconvert writes a PDF). Every one of them is the object's one
:class:`~chainrule.reporting.document.Document`, written by the house renderers:

* :class:`RichDisplay` — a mixin for results with a document: a run, a sweep comparison, the
  metrics, the worked example and its steps, a check result. ``to_document(fmt)`` builds it;
  HTML is a fragment (:func:`~chainrule.reporting.render_html.to_html` with ``fragment``), its
  math in Unicode, which every notebook front end shows; Markdown carries the math as TeX
  between dollars, which they typeset; LaTeX only where a class sets ``latex_display`` (the
  worked example: its matrices as ``pmatrix``).
* :class:`Rendered` — the text ``explain()`` and ``derive()`` return: still a ``str`` (print
  it, write it, compare it), whose ``repr`` is the text itself rather than one escaped line,
  and which a notebook shows in the format it was written in (Markdown typeset, HTML as a
  fragment, text and LaTeX as they are).
* :func:`inline_figures` — a document's figures as data URIs: in a notebook a path relative
  to a run directory points nowhere.

A result whose class is defined below the module that draws it (the worked example's record
is drawn by ``explain.render``, which imports the record; a check result by
``classroom.check_report``) cannot name its drawing function without an import cycle, so that
module registers it: ``register_document(WorkedExample, worked_document)``. Both are imported
by their package's ``__init__``, so the drawing is registered whenever such a result exists.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from chainrule.reporting.document import Document, Figure
from chainrule.reporting.formats import check_format, render
from chainrule.reporting.render_html import to_html

__all__ = ["Rendered", "RichDisplay", "inline_figures", "register_document", "rendered"]

#: Class -> ``builder(obj, fmt) -> Document`` for classes that cannot import their drawing.
_BUILDERS: dict[type, Callable[[Any, str], Document]] = {}


def register_document(cls: type, builder: Callable[[Any, str], Document]) -> None:
    """Register ``builder(obj, fmt)`` as the document of ``cls`` (and of its subclasses)."""
    _BUILDERS[cls] = builder


class RichDisplay:
    """Jupyter's rich display of a result, from its one document (see the module)."""

    #: Also offer ``_repr_latex_`` (for math-heavy documents: nbconvert's PDF typesets it).
    latex_display: ClassVar[bool] = False
    #: Offer ``_repr_html_``. A document that is all math to read sets this False: a notebook
    #: then shows its Markdown, whose TeX every front end typesets (HTML shows it in Unicode).
    html_display: ClassVar[bool] = True

    def to_document(self, fmt: str = "html") -> Document:
        """This result as a document, drawn for ``fmt`` (one of ``FORMATS``)."""
        check_format(fmt)
        for cls in type(self).__mro__:
            if cls in _BUILDERS:
                return _BUILDERS[cls](self, fmt)
        raise TypeError(
            f"{type(self).__name__} has no document: define to_document or register one "
            "with chainrule.reporting.display.register_document"
        )

    def _repr_html_(self) -> str | None:
        return to_html(self.to_document("html"), fragment=True) if self.html_display else None

    def _repr_markdown_(self) -> str:
        return render(self.to_document("markdown"), "markdown")

    def _repr_latex_(self) -> str | None:
        return render(self.to_document("latex"), "latex") if self.latex_display else None


class Rendered(str):
    """Text written from a document in ``fmt``, that a notebook shows as ``fmt``."""

    fmt: str
    document: Document

    def __new__(cls, text: str, fmt: str, document: Document) -> Rendered:
        self = super().__new__(cls, text)
        self.fmt = check_format(fmt)
        self.document = document
        return self

    def __repr__(self) -> str:
        # what an interpreter echoes: the text, line by line, not one escaped line
        return str(self)

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (str, (str(self),))  # pickles as the plain text it is

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_markdown_(self) -> str | None:
        return str(self) if self.fmt == "markdown" else None

    def _repr_html_(self) -> str | None:
        return to_html(self.document, fragment=True) if self.fmt == "html" else None


def rendered(document: Document, fmt: str, **options: Any) -> Rendered:
    """``document`` written as ``fmt`` (``formats.render``), as text that shows itself."""
    return Rendered(render(document, fmt, **options), fmt, document)


def inline_figures(document: Document, base: str | Path) -> Document:
    """``document`` with each figure's image (a path relative to ``base``) as a data URI; a
    figure whose file is missing is left out, and the SVG links are dropped (one image is
    enough inline)."""
    base = Path(base)
    blocks = []
    for block in document.blocks:
        if isinstance(block, Figure) and not block.path.startswith("data:"):
            path = base / block.path
            if not path.is_file():
                continue
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            block = replace(block, path=f"data:{kind};base64,{data}", svg_path=None)
        blocks.append(block)
    return replace(document, blocks=blocks)
