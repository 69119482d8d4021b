"""Renderers: the text reads as a worked solution, Markdown is well-formed, LaTeX compiles."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from worked_reference import first_weight

from chainrule.explain import compute, explain, render
from chainrule.explain.spec import load_spec
from chainrule.reporting.expr import (
    Add,
    Call,
    Deriv,
    Div,
    Mul,
    Neg,
    Num,
    Pow,
    Raw,
    Style,
    Sub,
    Sym,
    change_digits,
    format_number,
    latex_number,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLASSIC = EXAMPLES / "relu-tanh-sigmoid-mse.yaml"
ALL_EXAMPLES = sorted(EXAMPLES.glob("*.yaml"))
TEXT, LATEX = Style("text", 4), Style("latex", 4)


# -- the expression printer --------------------------------------------------------------------
def test_numbers_are_rounded_to_significant_digits_only_for_display():
    assert format_number(0.1 + 0.2, 4) == "0.3"
    assert format_number(0.49000000000000005, 4) == "0.49"
    assert format_number(-0.0, 4) == "0"
    assert format_number(1.23456e-5, 4) == "1.235e-05"
    assert latex_number(1.23456e-5, 4) == "1.235 \\times 10^{-5}"
    assert latex_number(1e-8, 4) == "10^{-8}"


def test_parentheses_come_from_precedence():
    assert Mul(Num(0.3), Num(-0.1)).render(TEXT) == "0.3*(-0.1)"
    assert Add(Num(0.3), Num(-0.2)).render(TEXT) == "0.3 - 0.2"
    assert Sub(Num(1), Sub(Num(2), Num(3))).render(TEXT) == "1 - (2 - 3)"
    assert Mul(Num(2), Add(Num(1), Num(2))).render(TEXT) == "2*(1 + 2)"
    assert Pow(Num(-0.3), Num(2)).render(TEXT) == "(-0.3)^2"
    assert Neg(Mul(Num(2), Num(3))).render(TEXT) == "-2*3"
    assert Div(Num(1), Mul(Num(2), Num(3))).render(TEXT) == "1 / (2*3)"
    assert Div(Num(1), Num(2)).render(LATEX) == "\\frac{1}{2}"


def test_symbols_in_both_notations():
    assert Sym("W", 1, (2, 3)).render(TEXT) == "W1[2,3]"
    assert Sym("W", 1, (2, 3)).render(LATEX) == "W^{(1)}_{2,3}"
    assert Sym("δ", 2, (1,)).render(LATEX) == "\\delta^{(2)}_{1}"
    delta = Deriv(Raw("L", "L"), Sym("a", 3, (1,)))
    assert delta.render(TEXT) == "dL/da3[1]"
    assert delta.render(LATEX) == "\\frac{\\partial L}{\\partial a^{(3)}_{1}}"
    assert Call("relu", Num(0.49)).render(TEXT) == "ReLU(0.49)"
    assert Call("sigmoid", Sym("z", 3, (1,)), prime=True).render(TEXT) == "sigmoid'(z3[1])"


def test_change_digits():
    assert change_digits(0.100004705, 0.1, 4) == 9
    assert change_digits(0.29, 0.3, 4) == 5
    assert change_digits(0.3, 0.3, 4) == 4


# -- text --------------------------------------------------------------------------------------
def test_text_is_grouped_by_layer_with_formulas_before_numbers():
    text = explain(CLASSIC)
    lines = text.splitlines()
    start = lines.index("  Layer 1: ReLU, 3 inputs -> 3 neurons")
    assert lines[start + 1].strip() == "z1 = W1 x + b1,  a1 = ReLU(z1)"
    assert lines[start + 2].strip() == "a1[j] = ReLU(Σ_k x[k]*W1[j,k] + b1[j])"
    assert lines[start + 5].strip().startswith("a1[1] = ReLU(")
    # sections in the order of a worked solution
    order = [
        "NETWORK",
        "STEP 1 OF 1",
        "Forward pass",
        "Loss",
        "Backward pass",
        "Gradients",
        "Update",
        "Verification",
        "SUMMARY",
    ]
    positions = [lines.index(heading) for heading in order]
    assert positions == sorted(positions)
    # the backward pass runs from the output layer down
    backward = text.split("Backward pass")[1]
    assert backward.index("Layer 3 (output layer") < backward.index("Layer 1 (hidden layer")


def test_equal_signs_are_aligned_within_a_block():
    text = explain(CLASSIC)
    block = text.split("  Layer 3 (output layer, sigmoid)")[1].split("\n\n")[1]
    columns = {line.index(" = ") for line in block.splitlines()}
    assert len(columns) == 1, block


def test_long_equations_break_after_an_equal_sign():
    text = explain(CLASSIC, paths=["W1[1,1]"])
    assert all(len(line) <= 140 for line in text.splitlines())
    assert re.search(r"\n\s+path 1\s+= dL/da3\[1\] \* .*\n\s+= 0\.1732 \* 0\.22 \*", text)


# -- markdown ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=lambda p: p.name)
def test_markdown_tables_and_lists_are_well_formed(path):
    markdown = explain(path, fmt="markdown", paths=[first_weight(path)])
    lines = markdown.splitlines()
    assert lines[0].startswith("# ")
    tables = 0
    for index, line in enumerate(lines):
        if line.startswith("|"):
            if not lines[index - 1].startswith("|"):  # a table starts: blank line, header, rule
                tables += 1
                assert lines[index - 1] == ""
                assert re.fullmatch(r"\|( -*-*:? \|)+", lines[index + 1].replace("---:", "---"))
                width = line.count("|")
            assert line.count("|") == width and line.endswith("|")
        if line.startswith("- "):  # list items: one equation each, as TeX between dollars
            assert line.startswith("- $") and line.endswith("$") and line.count("$") == 2
            assert lines[index - 1] == "" or lines[index - 1].startswith("- ")
        if line.startswith("$$"):  # a formula on its own: one paragraph
            assert line.endswith("$$") and line.count("$") == 4 and lines[index - 1] == ""
    assert tables >= 2
    assert "- $a^{(1)}_{1} = " in markdown or "- $z^{(1)}_{1,1,1} = " in markdown
    assert markdown.count("```") % 2 == 0


def test_markdown_math_reaches_jupyter_intact():
    """nbconvert renders Markdown as Jupyter does (math set aside for MathJax): every
    ``$…$`` comes out as written, and no underscore or product turned into emphasis."""
    filters = pytest.importorskip("nbconvert.filters.markdown_mistune")
    markdown = explain(CLASSIC, fmt="markdown", paths=["W1[1,1]"])
    page = filters.markdown2html_mistune(markdown)
    spans = re.findall(r"\$\$[^$]+\$\$|\$[^$]+\$", markdown)
    assert len(spans) > 50
    for span in spans:
        assert html.escape(span, quote=False) in page, span
    assert "<em>" not in page


def test_markdown_prose_escapes_emphasis_but_not_words():
    markdown = explain(CLASSIC, fmt="markdown")
    assert "W_l has one row" in markdown  # an underscore inside a word stays readable
    assert "1e-05\\*|numeric|" in markdown  # a lone asterisk is not emphasis


# -- latex -------------------------------------------------------------------------------------
def balanced(latex: str) -> None:
    body = latex.replace("\\{", "").replace("\\}", "")
    depth = 0
    for char in body:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    environments = re.findall(r"\\(begin|end)\{([a-z*]+)\}", latex)
    stack = []
    for kind, name in environments:
        if kind == "begin":
            stack.append(name)
        else:
            assert stack.pop() == name
    assert not stack
    assert latex.count("\\[") == latex.count("\\]")
    assert latex.count("\\(") == latex.count("\\)")
    assert len(re.findall(r"\\left[(\[.]", latex)) == len(re.findall(r"\\right[)\].]", latex))


@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=lambda p: p.name)
def test_latex_is_balanced_ascii_and_amsmath_only(path):
    latex = explain(path, fmt="latex", paths=[first_weight(path), "b1[1]"])
    balanced(latex)
    assert latex.isascii()
    assert "\\documentclass" not in latex and "\\usepackage" not in latex
    commands = set(re.findall(r"\\([A-Za-z]+)", latex))
    allowed = {
        "section",
        "subsection",
        "subsubsection",
        "paragraph",
        "texttt",
        "input",
        "begin",
        "end",
        "frac",
        "partial",
        "cdot",
        "left",
        "right",
        "operatorname",
        "tilde",
        "sigma",
        "tanh",
        "delta",
        "sum",
        "quad",
        "text",
        "leftarrow",
        "eta",
        "theta",
        "mu",
        "beta",
        "varepsilon",
        "sqrt",
        "hat",
        "log",
        "exp",
        "max",
        "times",
        "to",
        "tfrac",
        "textless",
        "textgreater",
        "textbar",
        "dots",
        "textasciicircum",
        "textasciitilde",
        "textbackslash",
    }
    assert commands <= allowed, commands - allowed
    assert "a^{(1)}_{1} &= \\operatorname{ReLU}\\left(0.3 \\cdot 0.1" in explain(
        CLASSIC, fmt="latex"
    )


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_fragment_compiles(tmp_path):
    for number, path in enumerate(ALL_EXAMPLES):
        fragment = tmp_path / f"fragment{number}.tex"
        fragment.write_text(
            explain(path, fmt="latex", paths=[first_weight(path)]), encoding="utf-8"
        )
        document = tmp_path / f"document{number}.tex"
        document.write_text(
            "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
            f"\\input{{{fragment.name}}}\n\\end{{document}}\n",
            encoding="utf-8",
        )
        result = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout[-3000:]
        assert (tmp_path / f"document{number}.pdf").stat().st_size > 0


# -- arguments ---------------------------------------------------------------------------------
def test_bad_format_and_digits():
    record = compute(load_spec(CLASSIC))
    with pytest.raises(ValueError, match="unknown format 'pdf'; valid formats: text, markdown"):
        render(record, fmt="pdf")
    for digits in (0, 18, 2.5, True):
        with pytest.raises(ValueError, match="digits must be an integer from 1 to 17"):
            render(record, digits=digits)


def test_the_same_record_renders_the_same_numbers_in_every_format():
    record = compute(load_spec(CLASSIC))
    value = record.steps[0].dW[0][0, 0]
    assert format_number(value, 4) in render(record, "text")
    assert (
        "$\\frac{\\partial L}{\\partial W^{(1)}_{1,1}} = \\delta^{(1)}_{1} \\cdot x_{1} = "
        f"\\left(-0.001568\\right) \\cdot 0.3 = {latex_number(value, 4)}$"
    ) in render(record, "markdown")
    assert latex_number(value, 4) in render(record, "latex")
    assert np.isfinite(value)


# -- in a notebook -----------------------------------------------------------------------------
def test_a_record_and_its_steps_show_themselves_in_a_notebook(html_text):
    record = compute(load_spec(CLASSIC), paths=["W1[1,1]"], source="classic.yaml")
    value = record.steps[0].dW[0][0, 0]
    text = html_text(record._repr_html_())
    assert text.startswith(record.spec.title) and "Step 1 of 1" in text
    assert format_number(value, 4) in text and "Chain-rule paths" in text
    markdown = record._repr_markdown_()
    assert markdown == render(record, "markdown")  # the same Markdown as explain writes
    assert f"= {latex_number(value, 4)}$" in markdown
    latex = record._repr_latex_()
    balanced(latex)
    assert "\\begin{pmatrix}" in latex  # the matrices drawn LaTeX's way

    step = record.steps[0]
    step_text = html_text(step._repr_html_())
    assert step_text.startswith("Step 1 Forward pass") and "Backward pass" in step_text
    assert "Network" not in step_text  # a step, not the whole example
    assert f"= {latex_number(value, 4)}$" in step._repr_markdown_()
    balanced(step._repr_latex_())


def test_the_html_page_typesets_every_formula_offline():
    """Chromium opens explain's page from disk, the network cut off: KaTeX (inlined) sets
    every formula, and none fails to parse (a failure keeps its Unicode form and a title)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).is_file():
        pytest.skip("Chromium not found (Debian package 'chromium')")
    # the dense examples (a conv example's page takes 10 s to compute and set)
    dense = [path for path in ALL_EXAMPLES if "conv" not in path.name]
    pages = {path.name: explain(path, fmt="html", paths=["W1[1,1]"]) for path in dense}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            fetched = []
            page.route("**/*", lambda route: (fetched.append(route.request.url), route.abort()))
            for name, html_page in pages.items():
                page.set_content(html_page)
                math = page.locator(".math").count()
                assert math > 100, name
                assert page.locator(".math .katex").count() == math, name
                assert page.locator(".math[title]").count() == 0, name  # no parse error
            assert fetched == []  # nothing from the network, not even a font
        finally:
            browser.close()
