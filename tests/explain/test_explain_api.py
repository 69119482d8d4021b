"""The public entry point the CLI calls: ``explain(spec_path, digits=, fmt=, paths=)``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from worked_reference import first_weight

from chainrule.explain import FORMATS, SpecError, explain

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLASSIC = EXAMPLES / "relu-tanh-sigmoid-mse.yaml"
ALL_EXAMPLES = sorted(EXAMPLES.glob("*.yaml"))


def test_three_examples_ship():
    names = {path.name for path in ALL_EXAMPLES}
    assert {
        "relu-tanh-sigmoid-mse.yaml",
        "sigmoid-binary-crossentropy.yaml",
        "softmax-categorical-crossentropy.yaml",
    } <= names


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=lambda p: p.name)
def test_every_example_in_every_format_verifies(path, fmt):
    output = explain(str(path), fmt=fmt, paths=[first_weight(path)])
    assert isinstance(output, str) and output.endswith("\n")
    assert "agree" in output
    assert "DISAGREE" not in output and "SOME" not in output


def test_several_steps_are_each_shown():
    output = explain(EXAMPLES / "sigmoid-binary-crossentropy.yaml")
    assert "STEP 1 OF 2" in output and "STEP 2 OF 2" in output
    assert output.count("Parameters after step") == 2
    assert "After step 2 (a forward pass with the updated parameters)" in output


def test_a_bad_spec_is_one_value_error_naming_the_file(tmp_path):
    raw = yaml.safe_load(CLASSIC.read_text(encoding="utf-8"))
    raw["layers"][2]["W"] = [[0.5, 0.1, 0.3], [0.5, 0.5, 0.3]]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ValueError) as error:
        explain(path)
    assert isinstance(error.value, SpecError)
    assert str(error.value) == (
        f"{path}: layer 3: W3 has 3 columns but layer 2 has 2 outputs (W3 is 2×3: rows = "
        "output neurons, columns = inputs, z3 = W3 a2 + b3)"
    )


def test_argument_errors():
    with pytest.raises(FileNotFoundError, match="explain spec not found: nowhere.yaml"):
        explain("nowhere.yaml")
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        explain(CLASSIC, fmt="pdf")
    with pytest.raises(ValueError, match="--digits must be an integer from 1 to 17, got 0"):
        explain(CLASSIC, digits=0)
    with pytest.raises(ValueError, match="--paths W9\\[1,1\\]: the network has 3 layers"):
        explain(CLASSIC, paths=["W9[1,1]"])


def test_in_a_notebook_the_text_shows_in_the_format_it_was_written_in():
    """explain() returns a str; a notebook (IPython's formatter) shows text and LaTeX as
    lines, Markdown typeset, HTML as a fragment of the page — never one escaped line."""
    formatter = pytest.importorskip("IPython.core.formatters").DisplayFormatter()
    text = explain(CLASSIC)
    assert isinstance(text, str) and repr(text) == str(text)
    assert formatter.format(text)[0] == {"text/plain": str(text)}
    markdown = explain(CLASSIC, fmt="markdown")
    bundle = formatter.format(markdown)[0]
    assert bundle["text/markdown"] == str(markdown) and "$a^{(1)}_{1} = " in markdown
    page = explain(CLASSIC, fmt="html")
    fragment = formatter.format(page)[0]["text/html"]
    assert page.startswith("<!DOCTYPE html>") and fragment.startswith("<div")
    assert "katex" in page and "katex" not in fragment
