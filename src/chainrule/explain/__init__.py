"""``chainrule explain``: a tiny network with explicit numbers, worked out by hand.

>>> print(explain("examples/relu-tanh-sigmoid-mse.yaml", paths=["W1[1,1]"]))  # doctest: +SKIP

prints every forward value with its arithmetic, the loss with its convention, every local
derivative, delta and gradient (formula, then numbers), the chain-rule paths to a chosen
parameter, the update, and a check of the gradients against the engine's own backward pass and
against finite differences. Every formula comes from the component's own math description
(``layer.math``, ``loss.math``, ``optimizer.math``; ``chainrule.nn.formulas``). Modules:

* ``spec``       the YAML schema (textbook layout, rows = output neurons), ``load_spec``;
* ``worked``     ``compute``: one step after another, into one record;
* ``record``     that record's types: equations, blocks, sections, the numbers of each step;
* ``symbols``    the printed names: a1[2], W2[1,3], δ2[1], f(z) and f'(z);
* ``symbolic``   the components' formulas run on symbols, so they print themselves;
* ``numbers``    one example's numbers, through the engine's own layers and loss;
* ``forward``, ``loss``, ``backward``, ``update``   the printed steps;
* ``verify``     the gradients against the engine's backward and finite differences;
* ``paths``      the chain-rule paths from the loss to one parameter;
* ``render``     text, Markdown, LaTeX (and HTML) renderings of that record;
* ``derivation`` the vectorized equations of any model (``derive``); ``graph`` its pictures.

Convolutional specs (``ConvSpec``: conv2d, pooling, flatten, then dense layers) are worked by
``conv_worked.compute_conv`` (which ``compute`` calls for them): ``conv_numbers`` (the engine's
numbers, layer by layer), ``conv_steps`` (every pixel's arithmetic), ``conv_paths`` (paths to a
kernel weight, grouped by output pixel); the loss, dense layers, update and rendering are the
modules above.
"""

from __future__ import annotations

from pathlib import Path

from chainrule.explain.record import WorkedExample
from chainrule.explain.render import FORMATS, render
from chainrule.explain.spec import ConvSpec, ExplainSpec, SpecError, load_spec, parse_spec
from chainrule.explain.worked import compute
from chainrule.reporting.formats import check_format
from chainrule.utils.validation import check_integer


def explain(
    spec_path: str | Path,
    *,
    digits: int = 4,
    fmt: str = "text",
    paths: list[str] | None = None,
) -> str:
    """The whole worked example for the spec file ``spec_path``, as ``fmt`` text.

    ``digits``: significant digits shown (numbers are computed in float64 regardless);
    ``fmt``: ``"text"``, ``"markdown"``, ``"latex"`` or ``"html"``; ``paths``: parameters in textbook
    indices (``["W1[1,1]", "b2[1]"]``) whose chain-rule paths to print. A bad spec or argument
    raises ``ValueError`` (``SpecError``) with one message; a missing file ``FileNotFoundError``.
    """
    check_format(fmt)
    check_integer(digits, "--digits", minimum=1, maximum=17)
    spec = load_spec(spec_path)
    record = compute(spec, paths=paths, source=str(spec_path))
    return render(record, fmt=fmt, digits=digits)


__all__ = [
    "FORMATS",
    "ConvSpec",
    "ExplainSpec",
    "SpecError",
    "WorkedExample",
    "compute",
    "explain",
    "load_spec",
    "parse_spec",
    "render",
]
