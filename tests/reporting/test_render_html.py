"""HTML: one self-contained, well-formed page; every string escaped."""

from __future__ import annotations

import re

from chainrule.reporting.document import (
    Code,
    Document,
    Equation,
    Equations,
    Figure,
    Heading,
    Paragraph,
    Table,
    prose,
)
from chainrule.reporting.render_html import CSS, MATH_CSS, katex_assets, to_html


def test_a_page_is_complete_well_formed_and_self_contained(html_text):
    document = Document(
        "A <title> & more",
        [
            Heading("Section"),
            Paragraph(prose("evil <script>alert('x')</script> and $\\delta_1$ of `dense_1`")),
            Equations([Equation("Z_1", "=", "X W_1", shape=("m", 64), note="dense_1")]),
            Equations([Equation("a = \\sigma(z)")], aligned=False),
            Table(("a", "b"), [("<1>", "2")], align="lr", caption="A & B", bold_rows={0}),
            Figure("figures/a b.png", 'the "plot"', svg_path="figures/a b.svg"),
            Code("<html> & stuff", summary="Raw"),
        ],
        origin="Written by a test.",
    )
    page = to_html(document)
    text = html_text(page)  # well-formed: every tag closed, in order
    assert page.startswith("<!DOCTYPE html>\n") and page.endswith("</html>\n")
    assert "<title>A &lt;title&gt; &amp; more</title>" in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)" in page
    # the only scripts are KaTeX and the call that typesets, after the content
    assert page.count("<script>") == 2 and page.index("<script>") > page.index("</main>")
    assert '<span class="math" data-tex="\\delta_1">δ₁</span> of <code>dense_1</code>' in page
    assert '<td class="shape">m×64</td><td class="note">dense_1</td>' in page
    assert (
        '<p class="equation"><span class="math display" data-tex="a = \\sigma(z)">a = σ(z)</span></p>'
        in page
    )
    assert "<caption>A &amp; B</caption>" in page
    assert '<tr class="bold"><td>&lt;1&gt;</td><td class="num">2</td></tr>' in page
    assert '<img src="figures/a%20b.png" alt="the &quot;plot&quot;">' in page
    assert '(<a href="figures/a%20b.svg">SVG</a>)' in page
    assert "<pre><code>&lt;html&gt; &amp; stuff</code></pre>" in page
    assert "<footer>Written by a test.</footer>" in page
    assert "evil <script>alert('x')</script>" in text  # reads as written
    assert_offline(page)


def assert_offline(page: str) -> None:
    """Nothing is fetched: no src, href, url() or @import outside the page itself (KaTeX's
    script names the SVG and MathML namespaces, which are never fetched)."""
    fetched = re.findall(r"""(?:src=|href=|url\(|@import)\s*["']?(https?:|//)""", page)
    assert fetched == []
    assert "fonts/KaTeX" not in page  # every font is inlined as a data URI


def test_math_styles_and_katex_are_added_only_to_pages_that_show_math():
    plain = to_html(Document("Run", [Paragraph("no math here")]))
    assert CSS in plain and MATH_CSS not in plain
    assert "<script>" not in plain and "katex" not in plain
    with_math = to_html(Document("Run", [Paragraph(prose("so $x$"))]))
    assert MATH_CSS in with_math
    katex_css, katex_js = katex_assets()
    assert katex_css in with_math and katex_js in with_math
    assert katex_css.count("data:font/woff2;base64,") == katex_css.count("@font-face")
    assert_offline(with_math)


def test_a_fragment_is_one_div_for_a_notebook(html_text):
    document = Document(
        "Title",
        [Heading("Part"), Heading("Step", 4), Paragraph(prose("so $x_1$")), Code("a < b")],
        origin="not shown in a notebook",
    )
    fragment = to_html(document, fragment=True)
    text = html_text(fragment)
    assert fragment.startswith('<div class="chainrule-display">') and fragment.endswith("</div>")
    assert "<script>" not in fragment and "<html" not in fragment and "body {" not in fragment
    assert "<h3>Title</h3>" in fragment and "<h4>Part</h4>" in fragment
    assert "<h6>Step</h6>" in fragment
    assert '<span class="math" data-tex="x_1">x₁</span>' in fragment
    assert "not shown" not in text


def test_an_inline_image_is_not_quoted():
    uri = "data:image/png;base64,iVBORw0KGgo+/="
    page = to_html(Document("", [Figure(uri, "inline")]), fragment=True)
    assert f'<img src="{uri}" alt="inline">' in page
