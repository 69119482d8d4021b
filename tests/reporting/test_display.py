"""Rich display: one document behind every mime type a notebook asks for."""

from __future__ import annotations

import base64
import pickle
import re
from dataclasses import dataclass

import pytest

from chainrule.reporting.display import (
    Rendered,
    RichDisplay,
    inline_figures,
    register_document,
    rendered,
)
from chainrule.reporting.document import Document, Equation, Equations, Figure, Paragraph, prose
from chainrule.reporting.formats import render

DOCUMENT = Document(
    "Result",
    [
        Paragraph(prose("the delta $\\delta_1$ of `dense_1` costs $5")),
        Equations([Equation("a_1", "=", "0.49")]),
    ],
)


def mime_bundle(obj) -> dict[str, str]:
    """What Jupyter receives for ``obj``: IPython's own formatter, as a kernel runs it."""
    formatter = pytest.importorskip("IPython.core.formatters").DisplayFormatter()
    data, _ = formatter.format(obj)
    return data


class Shown(RichDisplay):
    def to_document(self, fmt: str = "html") -> Document:
        return DOCUMENT


class Mathy(Shown):
    latex_display = True


def test_a_result_shows_html_markdown_and_only_where_asked_latex(html_text):
    bundle = mime_bundle(Shown())
    assert {"text/html", "text/markdown"} <= set(bundle) and "text/latex" not in bundle
    text = html_text(bundle["text/html"])
    assert "Result" in text and "δ₁" in text and "dense_1" in text
    assert bundle["text/html"].startswith('<div class="chainrule-display">')
    assert "<script" not in bundle["text/html"]  # a notebook output runs no script of ours
    # the Markdown is the document's, its math as TeX between dollars, a lone $ escaped
    assert bundle["text/markdown"] == render(DOCUMENT, "markdown")
    assert "$\\delta_1$" in bundle["text/markdown"] and "costs \\$5" in bundle["text/markdown"]
    assert "- $a_1 = 0.49$" in bundle["text/markdown"]
    latex = mime_bundle(Mathy())["text/latex"]
    assert latex == render(DOCUMENT, "latex") and "\\(\\delta_1\\)" in latex


@dataclass
class Record(RichDisplay):
    value: float


@dataclass
class Child(Record):
    pass


def test_a_class_that_cannot_import_its_drawing_registers_it(html_text):
    with pytest.raises(TypeError, match="Record has no document: define to_document or register"):
        Record(1.0)._repr_html_()
    register_document(Record, lambda record, fmt: Document(f"{fmt} {record.value}", []))
    assert html_text(Record(2.0)._repr_html_()) == "html 2.0"
    assert Child(3.0)._repr_markdown_() == "# markdown 3.0\n"  # a subclass draws the same way
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        Record(1.0).to_document("pdf")


def test_rendered_text_is_a_str_that_shows_itself_in_its_format(html_text):
    markdown = rendered(DOCUMENT, "markdown")
    assert isinstance(markdown, str) and markdown == render(DOCUMENT, "markdown")
    assert repr(markdown) == str(markdown)  # echoed as lines, not one escaped line
    assert mime_bundle(markdown) == {"text/plain": str(markdown), "text/markdown": str(markdown)}

    text = rendered(DOCUMENT, "text")
    assert mime_bundle(text) == {"text/plain": render(DOCUMENT, "text")}
    assert mime_bundle(rendered(DOCUMENT, "latex")) == {"text/plain": render(DOCUMENT, "latex")}

    page = rendered(DOCUMENT, "html")
    assert page.startswith("<!DOCTYPE html>")  # the text is the whole page, as asked
    fragment = mime_bundle(page)["text/html"]  # but a notebook gets the fragment
    assert fragment.startswith('<div class="chainrule-display">') and "δ₁" in html_text(fragment)

    copy = pickle.loads(pickle.dumps(markdown))
    assert copy == markdown and type(copy) is str
    assert Rendered("x", "text", DOCUMENT).upper() == "X"
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        Rendered("x", "pdf", DOCUMENT)


def test_figures_go_inline_for_a_notebook(tmp_path, html_text):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "history.png").write_bytes(png)
    document = Document(
        "Run",
        [
            Figure("figures/history.png", "Loss per epoch", svg_path="figures/history.svg"),
            Figure("figures/missing.png", "Gone"),
            Paragraph("after"),
        ],
    )
    inline = inline_figures(document, tmp_path)
    figure, paragraph = inline.blocks
    assert paragraph == Paragraph("after") and figure.svg_path is None
    data = re.fullmatch(r"data:image/png;base64,(.+)", figure.path).group(1)
    assert base64.b64decode(data) == png
    page = render(inline, "html", fragment=True)
    assert f'<img src="{figure.path}" alt="Loss per epoch">' in page
    assert "Gone" not in html_text(page)
    assert f"![Loss per epoch]({figure.path})" in render(inline, "markdown")
