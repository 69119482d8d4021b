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
from chainrule.reporting.formats import FORMATS, check_format, render


def small_document() -> Document:
    return Document(
        "Result of run 7",
        [
            Heading("Loss"),
            Paragraph(prose("The delta $\\delta_2 = A_2 - Y$ of `dense_1`.")),
            Equations([Equation("Z_1", "=", "X W_1 + b_1", shape=("m", 64))]),
            Table(("epoch", "loss"), [("1", "0.5"), ("2", "0.25")], align="lr"),
            Code("layers: [dense]"),
        ],
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_has_its_own_renderer_and_shows_every_block(fmt):
    output = render(small_document(), fmt)
    assert output.endswith("\n")
    for words in ("Result of run 7", "Loss", "dense", "0.25", "layers"):
        assert words in output or words.upper() in output, (fmt, words)
    outputs = {other: render(small_document(), other) for other in FORMATS}
    assert len(set(outputs.values())) == len(FORMATS)  # four different renderings


def test_format_names_are_checked():
    assert check_format("latex") == "latex"
    with pytest.raises(
        ValueError, match="unknown format 'pdf'; valid formats: text, markdown, latex, html"
    ):
        render(small_document(), "pdf")
