"""HTML: one self-contained, well-formed page; every string escaped."""

from __future__ import annotations

from html.parser import HTMLParser

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
from chainrule.reporting.render_html import CSS, MATH_CSS, to_html


class TagChecker(HTMLParser):
    """Every tag closed in order; the text content collected."""

    VOID = frozenset({"meta", "img", "br", "hr", "link"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def checked(page: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(page)
    assert checker.stack == []
    return checker


def test_a_page_is_complete_well_formed_and_self_contained():
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
    checker = checked(page)
    assert page.startswith("<!DOCTYPE html>\n") and page.endswith("</html>\n")
    assert "<title>A &lt;title&gt; &amp; more</title>" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)" in page
    assert '<span class="math">δ₁</span> of <code>dense_1</code>' in page
    assert '<td class="shape">m×64</td><td class="note">dense_1</td>' in page
    assert '<p class="equation"><span class="math">a = σ(z)</span></p>' in page
    assert "<caption>A &amp; B</caption>" in page
    assert '<tr class="bold"><td>&lt;1&gt;</td><td class="num">2</td></tr>' in page
    assert '<img src="figures/a%20b.png" alt="the &quot;plot&quot;">' in page
    assert '(<a href="figures/a%20b.svg">SVG</a>)' in page
    assert "<pre><code>&lt;html&gt; &amp; stuff</code></pre>" in page
    assert "<footer>Written by a test.</footer>" in page
    assert "http://" not in page and "https://" not in page  # no CDN, no fonts from the net
    assert "evil <script>alert('x')</script>" in "".join(checker.text)  # reads as written


def test_math_styles_are_added_only_to_pages_that_show_math():
    plain = to_html(Document("Run", [Paragraph("no math here")]))
    assert CSS in plain and MATH_CSS not in plain
    with_math = to_html(Document("Run", [Paragraph(prose("so $x$"))]))
    assert MATH_CSS in with_math
