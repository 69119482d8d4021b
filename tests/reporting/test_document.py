"""The document model: blocks, inline content, and one document in every format."""

from __future__ import annotations

import re

import pytest

from chainrule.reporting.document import (
    Code,
    Document,
    Equation,
    Equations,
    Figure,
    Heading,
    InlineCode,
    Math,
    Paragraph,
    Table,
    inline,
    plain_text,
    prose,
)
from chainrule.reporting.expr import Add, Mul, Num, Sym
from chainrule.reporting.formats import render


def sample() -> Document:
    """One of every block, with text that needs escaping in every format."""
    return Document(
        "Report for he_normal & *friends*",
        [
            Heading("Result"),
            Paragraph(
                prose("The delta $\\delta_2 = (A_2 - Y)/m$ of `dense_1` is 50% <b>bold</b>.")
            ),
            Heading("Equations", 3),
            Equations(
                [
                    Equation("Z_1", "=", "X W_1 + b_1", shape=("m", 64), note="dense_1"),
                    Equation("\\theta", "\\leftarrow", "\\theta - \\eta g", note=prose("$\\eta$")),
                ]
            ),
            Heading("Step 1", 4),
            Equations([Equation("a = \\sigma(z)")], aligned=False),
            Table(
                ("name", "value"),
                [("x_1 | y", "0.5"), ("#total", "1.5")],
                align="lr",
                bold_rows=frozenset({1}),
            ),
            Heading("Files"),
            Figure("figures/my plot.png", "Loss per epoch", svg_path="figures/my plot.svg"),
            Code("layers:\n  - dense # 64", summary="The recipe", language="yaml"),
        ],
        origin="Written by a test.",
    )


# --------------------------------------------------------------------------- inline content


def test_prose_splits_markup_into_text_math_and_names():
    assert prose("the delta $\\delta_1$ of `dense_1`.") == (
        "the delta ",
        Math("\\delta_1"),
        " of ",
        InlineCode("dense_1"),
        ".",
    )
    assert prose("costs $5, not more") == ("costs $5, not more",)  # a lone $ is text


def test_a_plain_string_is_text_and_is_never_parsed():
    assert inline("a $x$ and `y`") == ("a $x$ and `y`",)
    assert Paragraph("a $x$").content == ("a $x$",)


def test_math_has_a_plain_form_from_tex_or_its_own():
    assert Math("\\delta_2 W_2^\\top").plain == "δ₂ W₂ᵀ"
    assert Math("\\leftarrow", "<-").plain == "<-"
    assert plain_text(prose("so $\\eta = 0.1$ for `sgd`")) == "so η = 0.1 for sgd"


def test_math_of_an_expression_tree_has_both_forms():
    math = Math.of(Add(Mul(Num(0.3), Sym("W", 1, (1, 1))), Num(0.123456)), digits=3)
    assert math.plain == "0.3*W1[1,1] + 0.123"
    assert math.tex == "0.3 \\cdot W^{(1)}_{1,1} + 0.123"


# --------------------------------------------------------------------------- one document, four formats


def test_markdown_shows_each_block():
    markdown = render(sample(), "markdown")
    assert markdown.startswith("# Report for he_normal & \\*friends\\*\n\n## Result\n")
    assert (
        "The delta $\\delta_2 = (A_2 - Y)/m$ of `dense_1` is 50% \\<b\\>bold\\</b\\>." in markdown
    )
    assert "- $Z_1 = X W_1 + b_1$ $(m \\times 64)$ — dense_1" in markdown
    assert "- $\\theta \\leftarrow \\theta - \\eta g$ — $\\eta$" in markdown
    assert "**Step 1**\n\n$$a = \\sigma(z)$$" in markdown  # a formula shown on its own
    table = "| name | value |\n| --- | ---: |\n| x_1 \\| y | 0.5 |\n| **#total** | **1.5** |"
    assert table in markdown
    figure = "![Loss per epoch](figures/my%20plot.png)\n\n*Loss per epoch* ([SVG](figures/my%20plot.svg))"
    assert figure in markdown
    assert "The recipe:\n\n```yaml\nlayers:\n  - dense # 64\n```" in markdown
    assert "Written by a test" not in markdown  # the origin is for LaTeX and HTML


def test_latex_shows_each_block():
    latex = render(sample(), "latex")
    assert latex.isascii()
    assert latex.startswith("% Written by a test.\n% A document fragment: \\input it into a LaTeX ")
    assert "loads amsmath and graphicx." in latex  # a figure needs graphicx
    assert "\\section*{Report for he\\_normal \\& *friends*}" in latex
    assert "\\(\\delta_2 = (A_2 - Y)/m\\) of \\texttt{dense\\_1} is 50\\% \\textless{}b" in latex
    row = "  Z_1 &= X W_1 + b_1 && (m \\times 64) \\quad \\text{dense\\_1} \\\\\n"
    assert "\\begin{align*}\n" + row in latex
    assert "  \\theta &\\leftarrow \\theta - \\eta g && \\text{\\(\\eta\\)}\n\\end{align*}" in latex
    assert "\\paragraph{Step 1}\n\\[ a = \\sigma(z) \\]" in latex
    assert "\\begin{tabular}{lr}" in latex
    assert "x\\_1 \\textbar{} y & 0.5 \\\\\n\\textbf{\\#total} & \\textbf{1.5} \\\\" in latex
    assert "\\includegraphics[width=\\linewidth]{figures/my plot.png}" in latex
    assert "The recipe:\n\\begin{verbatim}\nlayers:\n  - dense # 64\n\\end{verbatim}" in latex


def test_text_shows_each_block():
    text = render(sample(), "text")
    assert text.startswith("Report for he_normal & *friends*\n================================\n")
    assert "\nRESULT\n======\n" in text and "\nEquations\n---------\n" in text
    assert "The delta δ₂ = (A₂ − Y)/m of dense_1 is 50% <b>bold</b>." in text
    assert "  Z₁ = X W₁ + b₁   m×64   dense_1\n  θ  ← θ − η g" in text
    # a run-in block: heading, its formula, then (after a blank line) its numbers
    assert "  Step 1\n    a = σ(z)\n\n    name      value\n    ───────   ─────\n" in text
    assert "    x_1 | y     0.5\n    #total      1.5\n\nFILES\n" in text  # right-aligned
    assert "\n\n  [Figure: Loss per epoch (figures/my plot.png)]\n\n" in text
    assert "The recipe:\n  layers:\n    - dense # 64\n" in text


def test_html_is_a_full_page_with_each_block():
    page = render(sample(), "html")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">')
    assert page.endswith("</script>\n</body>\n</html>\n")  # KaTeX, after the content
    assert "<title>Report for he_normal &amp; *friends*</title>" in page
    assert "<style>\nbody {" in page and ".math {" in page  # math gets its style
    assert "<h2>Result</h2>" in page and "<h4>Step 1</h4>" in page
    assert (
        '<span class="math" data-tex="\\delta_2 = (A_2 - Y)/m">δ₂ = (A₂ − Y)/m</span> of '
        "<code>dense_1</code>" in page
    )
    assert "50% &lt;b&gt;bold&lt;/b&gt;" in page
    assert (
        '<table class="equations">' in page
        and '<td class="rel"><span class="math" data-tex="\\leftarrow">←' in page
    )
    assert '<tr class="bold"><td>#total</td><td class="num">1.5</td></tr>' in page
    assert '<img src="figures/my%20plot.png" alt="Loss per epoch">' in page
    assert "<details>\n<summary>The recipe</summary>\n<pre><code>layers:" in page
    assert "<footer>Written by a test.</footer>" in page
    assert not re.search(r"(src=|href=|url\()[\"']?https?:", page)  # nothing from the network


def test_a_document_without_a_title_is_its_blocks():
    table = Document("", [Table(("a", "b"), [("1", "2")], align="rr")])
    assert render(table, "markdown") == "| a | b |\n| ---: | ---: |\n| 1 | 2 |\n"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: Heading("x", 7),
            ValueError,
            "Heading level must be an integer from 1 to 6, got 7",
        ),
        (lambda: Paragraph(["ok", 3]), TypeError, "str, Math and InlineCode pieces, got int"),
        (lambda: Paragraph(42), TypeError, "inline content must be a str or a sequence"),
        (lambda: Equation("x", None, "y"), ValueError, "has a right-hand side but no relation"),
        (lambda: Equation(3.0), TypeError, "math must be a TeX str or a Math, got float"),
        (lambda: Equations([]), ValueError, "at least one Equation row"),
        (lambda: Equations(["x = 1"]), TypeError, "rows must be Equation, got str"),
        (lambda: Table((), []), ValueError, "at least one column"),
        (lambda: Table(("a", "b"), [("1",)]), ValueError, "Table row 1 has 1 cells, the header 2"),
        (lambda: Table(("a", "b"), [], align="lx"), ValueError, "one letter l, r or c per column"),
        (lambda: Document("t", ["text"]), TypeError, "got str"),
    ],
)
def test_bad_blocks_are_refused_with_a_message(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()
