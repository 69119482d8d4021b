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
from chainrule.reporting.render_latex import ROWS_PER_ALIGN, latex_escape, to_latex


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
    (tmp_path / "fragment.tex").write_text(to_latex(document), encoding="ascii")
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
        "\\input{fragment.tex}\n\\end{document}\n"
    )
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert not re.search(r"Missing character|Undefined control", result.stdout)
