"""LaTeX: an ASCII fragment that compiles with amsmath alone, prose escaped, math as written."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from chainrule.reporting.document import (
    Code,
    Document,
    Equation,
    Equations,
    Heading,
    Paragraph,
    Table,
    prose,
)
from chainrule.reporting.render_latex import (
    ROWS_PER_ALIGN,
    latex_escape,
    split_terms,
    to_latex,
)


def test_latex_escape_leaves_only_safe_ascii():
    escaped = latex_escape("50% of a_b & {c} #1 ~^\\ <x> |y| -> é")
    assert escaped == (
        "50\\% of a\\_b \\& \\{c\\} \\#1 \\textasciitilde{}\\textasciicircum{}\\textbackslash{} "
        "\\textless{}x\\textgreater{} \\textbar{}y\\textbar{} \\(\\to\\) ?"
    )


def test_latex_escape_spells_chainrules_own_unicode_in_ascii():
    assert latex_escape("Dense 784 → 64, fan_in × fan_out — δ and $5…") == (
        "Dense 784 \\(\\to\\) 64, fan\\_in \\(\\times\\) fan\\_out --- \\(\\delta\\) and \\$5\\dots{}"
    )


def test_inline_math_names_and_headings():
    document = Document(
        "A title",
        [
            Heading("Section"),
            Heading("Sub", 3),
            Heading("Step 1", 4),
            Paragraph(prose("the delta $\\delta_1$ of `dense_1`")),
        ],
    )
    assert to_latex(document) == (
        "% A document fragment: \\input it into a LaTeX document that loads amsmath.\n\n"
        "\\section*{A title}\n\n\\subsection*{Section}\n\n\\subsubsection*{Sub}\n\n"
        "\\paragraph{Step 1}\nthe delta \\(\\delta_1\\) of \\texttt{dense\\_1}\n"
    )


def test_display_math_continues_the_paragraph_around_it():
    document = Document(
        "",
        [
            Paragraph("For every layer:"),
            Equations([Equation("Z", "=", "A W + b")]),
            Paragraph("so Z has m rows."),
            Paragraph("A new paragraph."),
        ],
    )
    assert to_latex(document).split("\n\n")[1:] == [
        "For every layer:\n\\begin{align*}\n  Z &= A W + b\n\\end{align*}\nso Z has m rows.",
        "A new paragraph.\n",
    ]


def test_an_aligned_group_puts_shape_and_short_notes_on_the_row_long_ones_after():
    rows = [
        Equation("Z_1", "=", "X W_1", shape=("m", 64), note=prose("`dense_1`")),
        Equation("A_1", "=", "\\sigma(Z_1)", note="a note far too long to sit beside its equation"),
    ]
    latex = to_latex(Document("", [Equations(rows)]))
    assert "  Z_1 &= X W_1 && (m \\times 64) \\quad \\text{\\texttt{dense\\_1}} \\\\\n" in latex
    assert "  A_1 &= \\sigma(Z_1)\n\\end{align*}\n\n\\(A_1\\): a note far too long" in latex


def test_long_groups_split_into_aligns_and_long_chains_break_after_equals():
    rows = [Equation(f"x_{i}", "=", f"{i}") for i in range(ROWS_PER_ALIGN + 3)]
    long_chain = ("a + b + c + d + e + f + g + h + i + j", "k + l + m + n + o + p + q + r", "1")
    rows.append(Equation("y", "=", long_chain))
    latex = to_latex(Document("", [Equations(rows)]))
    assert latex.count("\\begin{align*}") == 2
    first = latex.split("\\end{align*}")[0]
    assert first.count("\\\\\n") == ROWS_PER_ALIGN - 1
    assert "  y &= a + b + c + d + e + f + g + h + i + j \\\\\n  &= k + l" in latex
    assert latex.rstrip().endswith("&= k + l + m + n + o + p + q + r = 1\n\\end{align*}")


def test_tables_bold_rows_and_code():
    document = Document(
        "",
        [
            Table(("x_1", "value"), [("a", "1"), ("all", "2")], align="lr", bold_rows={1}),
            Code("print('\\\\end{verbatim}')", summary="The script"),
        ],
    )
    latex = to_latex(document)
    assert "\\begin{tabular}{lr}\n\\hline\nx\\_1 & value \\\\\n\\hline\na & 1 \\\\\n" in latex
    assert "\\textbf{all} & \\textbf{2} \\\\\n\\hline\n\\end{tabular}" in latex
    assert "The script:\n\\begin{verbatim}\nprint('\\\\end {verbatim}')\n\\end{verbatim}" in latex
    assert latex.count("\\end{verbatim}") == 1  # the one in the code cannot close it early


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_a_fragment_compiles_with_amsmath_alone(tmp_path):
    document = Document(
        "Escapes: 50% & $5 #1 ~x^y_z <a> |b| -> {c} \\ é",
        [
            Heading("Math and names"),
            Paragraph(
                prose("the delta $\\delta_1 = \\partial\\mathcal{L}/\\partial Z_1$ of `dense_1`")
            ),
            Equations(
                [Equation(f"x_{i}", "=", ("a + b", f"{i}"), shape=("m", i)) for i in range(15)]
            ),
            Equations([Equation("\\sigma(z) = 1/(1 + e^{-z})")], aligned=False),
            Heading("Step", 4),
            Paragraph("→ × · … — δ θ"),
            Table(("a", "b"), [("1", "2")], align="lr", bold_rows={0}),
            Code("raw {text} with $ and \\ and # inside"),
        ],
        origin="Written by a test.",
    )
    result = _compile(document, tmp_path)
    assert not re.search(r"Missing character|Undefined control", result.stdout)


def _compile(document: Document, folder) -> subprocess.CompletedProcess:
    """``document``'s fragment \\input into an article with amsmath, run through pdflatex."""
    (folder / "fragment.tex").write_text(to_latex(document), encoding="ascii")
    (folder / "main.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
        "\\input{fragment.tex}\n\\end{document}\n"
    )
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return result


# -- long sums ---------------------------------------------------------------------------------
#: dL/dW of a convolution: 16 products in symbols, then in numbers (negatives parenthesized)
SYMBOLS = " + ".join(
    f"\\delta^{{(1)}}_{{1,{i // 4 + 1},{i % 4 + 1}}} \\cdot x_{{1,1,{i}}}" for i in range(16)
)
NUMBERS = (
    " + ".join(
        f"\\left(-0.{i + 1}\\right) \\cdot 0.{i + 2}" if i % 3 else f"0.{i + 1} \\cdot 0.{i + 5}"
        for i in range(16)
    )
    + " - 0.25 \\cdot \\left(0.5 - 0.1\\right)"
)
LONG_SUM = Equation(
    "\\frac{\\partial L}{\\partial W^{(1)}_{1,1,1,1}}", "=", (SYMBOLS, NUMBERS, "-0.2142")
)
MATRIX = (
    "\\begin{pmatrix} "
    + " & ".join(["-0.04199"] * 6)
    + " \\\\ "
    + " & ".join(["0.5"] * 6)
    + " \\end{pmatrix}"
)
TWO_MATRICES = Equation("\\delta_{1}", "=", f"{MATRIX}, \\quad \\delta_{{2}} = {MATRIX}")


def test_split_terms_breaks_only_at_top_level_plus_and_minus():
    tex = "a \\cdot \\left(b - c\\right) + \\frac{d + e}{2} - -0.2 + x_{i - 1} - \\begin{pmatrix} 1 - 2 \\end{pmatrix}"
    terms = split_terms(tex)
    assert terms == [
        "a \\cdot \\left(b - c\\right)",
        "+ \\frac{d + e}{2}",
        "- -0.2",
        "+ x_{i - 1}",
        "- \\begin{pmatrix} 1 - 2 \\end{pmatrix}",
    ]
    assert " ".join(terms) == tex
    assert split_terms("-0.2 \\cdot x") == ["-0.2 \\cdot x"]


def test_a_long_sum_wraps_into_continuation_lines_that_keep_every_term():
    latex = to_latex(Document("", [Equations([LONG_SUM])]))
    body = latex.split("\\begin{align*}\n")[1].split("\n\\end{align*}")[0]
    lines = body.split(" \\\\\n")
    assert len(lines) > 4 and sum(line.startswith("  &\\quad {}+ ") for line in lines) >= 4
    # joined back, the continuation lines give the one-line equation
    unwrapped = re.sub(r" \\\\\n  &\\quad \{\}", " ", body).replace(" \\\\\n  &= ", " = ")
    assert unwrapped == f"  {LONG_SUM.lhs.tex} &= {SYMBOLS} = {NUMBERS} = -0.2142"
    # the parenthesized difference is never broken
    assert all(line.count("\\left(") == line.count("\\right)") for line in lines)


def test_displayed_equations_too_wide_side_by_side_go_one_under_the_other():
    latex = to_latex(Document("", [Equations([TWO_MATRICES], aligned=False)]))
    assert (
        f"\\begin{{gather*}}\n  \\delta_{{1}} = {MATRIX}, \\\\\n  \\delta_{{2}} = {MATRIX}\n"
        in latex
    )
    short = to_latex(
        Document("", [Equations([Equation("a", "=", "1, \\quad b = 2")], aligned=False)])
    )
    assert "\\[ a = 1, \\quad b = 2 \\]" in short


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_long_sums_and_wide_pairs_stay_inside_the_margin(tmp_path):
    document = Document(
        "Long sums",
        [
            Equations([LONG_SUM, Equation("z_1", "=", (NUMBERS, "0.162"))]),
            Equations([TWO_MATRICES], aligned=False),
        ],
    )
    _compile(document, tmp_path)
    log = (tmp_path / "main.log").read_text(errors="replace")
    overfull = [float(points) for points in re.findall(r"Overfull \\hbox \(([\d.]+)pt", log)]
    assert all(points <= 2.0 for points in overfull), overfull
