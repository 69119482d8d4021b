"""Markdown: plain text comes out as written, with as few backslashes as that takes."""

from __future__ import annotations

import html

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
from chainrule.reporting.render_markdown import markdown_escape, to_markdown

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
