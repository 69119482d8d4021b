"""Markdown: plain text comes out as written, with as few backslashes as that takes."""

from __future__ import annotations

import html
import re

import pytest

from chainrule.reporting.document import (
    Code,
    Document,
    Equation,
    Equations,
    Heading,
    InlineCode,
    Math,
    Paragraph,
    Table,
)
from chainrule.reporting.render_markdown import markdown_escape, markdown_tex, to_markdown

TRICKY = [
    "evil <script>alert('x')</script> & co",
    "*stars* and **more**, _under_ and __dunder__ but he_normal and n_in",
    "a [link](http://example.com), an ![image](x.png) and [ref]: http://x",
    "`code` and \\backslash\\ and a | pipe",
    "# not a heading",
    "- not a list",
    "+ not a list either",
    "> not a quote",
    "3 inputs -> 2 neurons => fine",
]


@pytest.mark.parametrize("text", TRICKY)
def test_escaped_text_renders_as_written(text):
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").render(markdown_escape(text)).strip()
    assert rendered == f"<p>{html.escape(text, quote=False)}</p>"


def test_only_what_markdown_would_interpret_is_escaped():
    assert markdown_escape("he_normal and n_in") == "he_normal and n_in"
    assert markdown_escape("W_l[j,k] 3 -> 2 |x|") == "W_l[j,k] 3 -> 2 |x|"
    assert markdown_escape("_x_ *y*") == "\\_x\\_ \\*y\\*"
    assert markdown_escape("evil <script>") == "evil \\<script\\>"
    assert markdown_escape("# one\n- two") == "\\# one\n\\- two"
    assert markdown_escape("# inside a line", line_start=False) == "# inside a line"
    assert markdown_escape("a\n# b", line_start=False) == "a\n\\# b"


def test_math_as_tex_or_as_code_spans():
    document = Document(
        "",
        [
            Paragraph(("so ", Math("\\delta_2 = A_2 - Y"), " for ", InlineCode("dense_1"))),
            Equations([Equation("a_1", "=", ("0.3 \\cdot 0.1", "0.03"))]),
        ],
    )
    assert to_markdown(document) == (
        "so $\\delta_2 = A_2 - Y$ for `dense_1`\n\n- $a_1 = 0.3 \\cdot 0.1 = 0.03$\n"
    )
    assert to_markdown(document, math="code") == (
        "so `δ₂ = A₂ − Y` for `dense_1`\n\n- `a₁ = 0.3 · 0.1 = 0.03`\n"
    )
    with pytest.raises(ValueError, match="math must be one of tex, code, got 'mathjax'"):
        to_markdown(document, math="mathjax")


def test_code_spans_and_fences_outgrow_the_backquotes_inside():
    document = Document(
        "", [Paragraph((InlineCode("a `b` c"),)), Code("```\nfenced\n```", language="md")]
    )
    assert to_markdown(document) == "`` a `b` c ``\n\n````md\n```\nfenced\n```\n````\n"


def test_table_cells_escape_pipes_and_newlines_and_bold_only_what_is_there():
    table = Table(("a", "b"), [("x|y", "two\nlines"), ("", "z")], bold_rows=frozenset({1}))
    assert to_markdown(Document("", [table])) == (
        "| a | b |\n| --- | --- |\n| x\\|y | two lines |\n|  | **z** |\n"
    )


def test_run_in_heading_is_a_bold_line_and_levels_are_hashes():
    document = Document("T", [Heading("Two"), Heading("Three", 3), Heading("Step", 4)])
    assert to_markdown(document) == "# T\n\n## Two\n\n### Three\n\n**Step**\n"


def test_a_dollar_in_text_is_escaped_so_it_opens_no_math():
    assert markdown_escape("costs $5 and $6") == "costs \\$5 and \\$6"
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").render(markdown_escape("a $x$ b")).strip()
    assert rendered == "<p>a $x$ b</p>"  # shown as written, as plain text


def test_tex_reaches_the_typesetter_whatever_reads_the_markdown():
    # a backslash before punctuation is an escape to Markdown (GitHub drops the braces of
    # \{ and shows \: as a colon): those commands go by name, a space only before a letter
    assert markdown_tex("a \\, b \\;c \\!d \\{x\\} \\|W\\| \\:2") == (
        "a \\thinspace b \\thickspace c \\negthinspace d \\lbrace x\\rbrace \\Vert W\\Vert "
        "\\medspace2"
    )
    assert markdown_tex("  x \\\\ y  ") == "x \\\\ y"  # trimmed; a line break stays
    # no HTML tag, no link
    assert markdown_tex("a <b, c > d, [a](b)") == "a \\lt b, c \\gt d, [a]{}(b)"
    assert markdown_tex("|x|", in_table=True) == "\\vert x\\vert"  # a pipe would end the cell
    assert markdown_tex("|x|") == "|x|"
    document = Document(
        "",
        [
            Table(("a",), [((Math("|x| \\, \\|W\\|"),),)]),
            Equations([Equation("z = W x"), Equation("a", "=", "f(z)", note="why")], aligned=False),
        ],
    )
    markdown = to_markdown(document)
    assert "| $\\vert x\\vert \\thinspace \\Vert W\\Vert$ |" in markdown
    # a formula on its own is displayed; one with a note stays a bullet, the note after it
    assert "$$z = W x$$\n\n- $a = f(z)$ — why\n" in markdown


JUPYTER_MATH = [
    "a_1 b_2 + c_{j,k} * d_3",  # underscores and a star: emphasis if Markdown saw them
    "\\frac{\\partial L}{\\partial W^{(1)}_{1,1}} = 0.3 \\cdot 0.1 \\, x",
    "\\left(-0.001568\\right) \\cdot \\sum_k x_k W_{j,k} < 1",
]


@pytest.mark.parametrize("tex", JUPYTER_MATH)
def test_jupyter_gets_the_tex_as_written(tex):
    """nbconvert renders Markdown as Jupyter does (math set aside for MathJax): the TeX
    between dollars comes out whole, in a paragraph, a bullet and a table cell alike."""
    filters = pytest.importorskip("nbconvert.filters.markdown_mistune")
    document = Document(
        "",
        [
            Paragraph(("so ", Math(tex), " holds")),
            Equations([Equation(tex)]),
            Equations([Equation(tex)], aligned=False),
            Table(("formula", "b"), [((Math(tex),), "1")]),
        ],
    )
    markdown = to_markdown(document)
    page = filters.markdown2html_mistune(markdown)
    spans = re.findall(r"\$\$[^$]+\$\$|\$[^$]+\$", markdown)
    assert len(spans) == 4
    for span in spans:
        assert html.escape(span, quote=False) in page
    assert "<em>" not in page and "<strong>" not in page
    assert page.count("<td") == 2  # the table kept its two cells
