"""The formats a document is written in, and ``render(document, fmt)`` that picks the renderer.

``text`` (a terminal), ``markdown`` (GitHub, Jupyter; math as ``$…$``), ``latex`` (a fragment
to ``\\input``; needs amsmath) and ``html`` (a self-contained page; its math typeset by the
KaTeX it carries). Each renderer lives in its own module and imports
:mod:`chainrule.reporting.document` for the block types; this module sits above them all, so
that nothing imports itself through another.
"""

from __future__ import annotations

from typing import Any

from chainrule.reporting.document import Document
from chainrule.reporting.render_html import to_html
from chainrule.reporting.render_latex import to_latex
from chainrule.reporting.render_markdown import to_markdown
from chainrule.reporting.render_text import to_text

__all__ = ["FORMATS", "check_format", "render"]

FORMATS = ("text", "markdown", "latex", "html")

_RENDERERS = {"text": to_text, "markdown": to_markdown, "latex": to_latex, "html": to_html}


def check_format(fmt: str) -> str:
    """``fmt`` if it is one of :data:`FORMATS`, else a ValueError naming the valid ones."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    return fmt


def render(document: Document, fmt: str = "markdown", **options: Any) -> str:
    """``document`` written as ``fmt`` (see :data:`FORMATS`); ``options`` go to that renderer
    (Markdown: ``math="tex"`` or ``"code"``; text: ``width``; HTML: ``fragment=True`` for
    one ``<div>`` that a notebook shows, see :mod:`chainrule.reporting.display`)."""
    return _RENDERERS[check_format(fmt)](document, **options)
