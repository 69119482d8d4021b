"""Plain text: headings underlined, prose wrapped, equations lined up, run-in blocks tight."""

from __future__ import annotations

from chainrule.reporting.document import (
    Code,
    Document,
    Equation,
    Equations,
    Heading,
    Math,
    Paragraph,
    Table,
    prose,
)
from chainrule.reporting.render_text import to_text


def test_headings_by_level():
    document = Document("The title", [Heading("Section"), Heading("Subsection", 3)])
    assert to_text(document) == (
        "The title\n=========\n\nSECTION\n=======\n\nSubsection\n----------\n"
    )


def test_prose_wraps_at_the_width_and_never_splits_a_formula():
    words = "word " * 12
    document = Document("", [Paragraph(prose(words + "then $a + b + c$ end"))])
    text = to_text(document, width=70)
    assert all(len(line) <= 70 for line in text.splitlines())
    assert "a + b + c end" in text.splitlines()[-1]


def test_an_equation_group_lines_up_its_columns():
    rows = [
        Equation("Z_1", "=", "X W_1 + b_1", shape=("m", 64), note=prose("`dense_1`")),
        Equation("\\mathcal{L}", "=", "-\\sum Y \\odot \\log A_2 / m", note="the mean"),
    ]
    assert to_text(Document("", [Equations(rows)])) == (
        "  Z₁ = X W₁ + b₁           m×64   dense_1\n  L  = −Σ Y ⊙ log A₂ / m          the mean\n"
    )


def test_a_long_note_goes_on_its_own_lines_under_the_equation():
    note = "a note that is far too long to fit on the same line as its equation " * 2
    text = to_text(Document("", [Equations([Equation("x", "=", "1", note=note)])]), width=60)
    first, *rest = text.splitlines()
    assert first == "  x = 1"
    assert len(rest) >= 3  # indented past the equation's left-hand side
    assert all(line.startswith(" " * 5) and line[5] != " " for line in rest)
    assert all(len(line) <= 60 for line in rest)
    assert " ".join(line.strip() for line in rest) == note.strip()


def test_a_long_chain_breaks_before_each_equals_keeping_the_value_with_its_step():
    sides = [Math("0", "0.3*0.1 + 0.5*0.2 + 0.8*0.2 + 0.2"), Math("0", "ReLU(0.49)"), "0.49"]
    row = Equation(Math("a", "a1[1]"), "=", sides)
    assert to_text(Document("", [Equations([row])]), width=40) == (
        "  a1[1] = 0.3*0.1 + 0.5*0.2 + 0.8*0.2 + 0.2\n        = ReLU(0.49) = 0.49\n"
    )


def test_a_run_in_block_is_tight_with_a_blank_line_before_its_numbers():
    document = Document(
        "",
        [
            Heading("Layer 1", 4),
            Equations([Equation(Math("", "a1 = ReLU(z1)"))], aligned=False),
            Paragraph("where ReLU(z) = max(0, z)"),
            Code("W1 = [0.1  0.2]"),
            Equations([Equation(Math("a", "a1[1]"), "=", Math("0", "0.49"))]),
            Heading("Layer 2", 4),
            Paragraph("next"),
        ],
    )
    assert to_text(document) == (
        "  Layer 1\n"
        "    a1 = ReLU(z1)\n"
        "    where ReLU(z) = max(0, z)\n"
        "\n"
        "    W1 = [0.1  0.2]\n"
        "    a1[1] = 0.49\n"
        "\n"
        "  Layer 2\n"
        "    next\n"
    )


def test_tables_have_a_rule_under_the_header_and_right_aligned_numbers():
    table = Table(("symbol", "value"), [("x", "1"), ("total", "12.5")], align="lr")
    assert to_text(Document("", [table])) == (
        "  symbol   value\n  ──────   ─────\n  x            1\n  total     12.5\n"
    )
