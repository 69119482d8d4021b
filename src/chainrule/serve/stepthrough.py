"""The "Step through backprop" page: any explain spec, drawn, stepped, clicked and practised.

The page (``static/step.html``, ``step.js``, ``step.css``) draws the network and steps through
it; every number and every line of arithmetic it shows comes from here, and here from
:func:`chainrule.explain.compute` — the record ``chainrule explain`` prints — so the page can
never disagree with ``explain``: there is no second copy of the math in JavaScript.

    GET  /step                  the page
    GET  /api/step/examples     the shipped specs (``examples/*.yaml``), by name, and
                                ``STARTER_SPEC`` for where there are none
    POST /api/step              a spec → the worked example as JSON (below)
    POST /api/step/paths        a spec, a parameter ("W1[1,1]"), a step → its chain-rule paths
    POST /api/step/check        a spec and a student's numbers → ``check``'s verdicts

Every POST body is a JSON object naming its spec one of three ways: ``{"example": NAME}`` (a
shipped spec, looked up by name: a client never names a file), ``{"yaml": TEXT}`` (a spec
edited on the page, read by the same bounded YAML reader and spec parser as a spec file) or
``{"spec": {...}}`` (the same mapping as JSON, which is how the page sends an edit made with
its controls). A spec that cannot be used is answered 400 with ``{"error": "..."}``, the
parser's own one-line message.

The worked example as JSON: ``values`` holds every number of every step, each with its ``id``
(``"step:example:name"``, example 0 for a batch's gradients and update; ``"given:..."`` for
the numbers a step starts from), the ``name`` explain
prints (``a1[2]``, ``δ3[1]``, ``dL/dW1[1,1]``), its ``kind``, layer and textbook index, the
``value``, the ``text`` explain shows for it, the ``line`` explain prints for it
(``δ3[1] = dL/da3[1]*sigmoid'(z3[1]) = 0.1732*0.22 = 0.03811``) and the ``phase`` it belongs
to; ``phases`` lists the stops of the stepper in order (per step: each layer's forward pass,
the loss, each layer's δ going back, the gradients, the update) with the general formulas
explain prints above their numbers. A pre-activation z of an element-wise layer has no line of
its own in explain: its line is the one of its a, which shows it (``ReLU(0.49)``). The given
numbers (x, y, the spec's W and b) carry ``path``, where they sit in ``spec``, so the page
edits the spec and posts it back rather than computing anything.

The page is for networks worked by hand: at most ``MAX_LAYERS`` layers of ``MAX_WIDTH``
neurons, ``MAX_EXAMPLES`` examples, ``MAX_STEPS`` steps and ``MAX_UPDATES`` parameter updates
(weights and biases × steps: the work grows with them, and every one is a printed line); a
parameter is given its paths when it has at most ``MAX_PATHS``. Larger specs are refused with
a message pointing to ``chainrule explain``, which has no such limits.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from chainrule.classroom.grader import Grader
from chainrule.classroom.quantities import Chain
from chainrule.explain.paths import Path as ChainPath
from chainrule.explain.paths import enumerate_paths, parse_parameter, paths_section
from chainrule.explain.record import Block, Equation, Section, StepRecord, WorkedExample
from chainrule.explain.render import equation_row
from chainrule.explain.spec import ExplainSpec, SpecError, explained_optimizers, parse_spec
from chainrule.explain.symbols import Applied
from chainrule.explain.worked import compute
from chainrule.nn.layers import ACTIVATIONS, get_activation
from chainrule.nn.losses import LOSSES
from chainrule.nn.optim import OPTIMIZERS
from chainrule.reporting import document as doc
from chainrule.reporting.expr import Deriv, Expr, Raw, State, Sym, format_number
from chainrule.serve.limits import RequestError, error_response, read_json
from chainrule.utils.validation import check_integer
from chainrule.utils.yamlfile import parse_yaml_mapping, read_yaml_mapping, read_yaml_text

STATIC = Path(__file__).resolve().parent / "static"
#: The specs shipped with chainrule (a source checkout's ``examples/``; an installed wheel has
#: none, and the page then opens on ``STARTER_SPEC`` in its editor).
EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"
#: A spec to start from where no example is found: small enough to work out by hand.
STARTER_SPEC = """\
title: A 2-2-1 sigmoid network, one step of gradient descent
layout: textbook          # W has one row per output neuron: z = W x + b
input: [0.5, 0.1]
target: [1.0]
layers:
  - activation: sigmoid
    W: [[0.15, 0.2],
        [0.25, 0.3]]
    b: [0.35, 0.35]
  - activation: sigmoid
    W: [[0.4, 0.45]]
    b: [0.6]
loss: {name: mse, reduction: half_sum}
optimizer: {name: gd, learning_rate: 0.5}
steps: 1
"""

MAX_LAYERS = 5
MAX_WIDTH = 8
MAX_EXAMPLES = 4
MAX_STEPS = 10
#: Weights and biases × steps: a few hundred answer within ~100 ms on 2 cores.
MAX_UPDATES = 300
MAX_PATHS = 512
#: A spec is a few hundred bytes of YAML; the page's editor never needs more than this.
MAX_YAML_CHARACTERS = 64 * 1024
DIGITS = 4

#: The parts of a step, in the stepper's order.
FORWARD, LOSS, BACKWARD, GRADIENTS, UPDATE = "forward", "loss", "backward", "gradients", "update"


# -- where a spec comes from ------------------------------------------------------------------
def example_files(directory: Path = EXAMPLES_DIR) -> dict[str, Path]:
    """The shipped specs by name (file stem), in name order; none when there is no folder."""
    if not directory.is_dir():
        return {}
    return {path.stem: path for path in sorted(directory.glob("*.yaml")) if path.is_file()}


def read_spec(
    body: Mapping[str, Any], examples: Mapping[str, Path]
) -> tuple[ExplainSpec, str, str]:
    """(spec, source, YAML text) from a request body: ``example``, ``yaml`` or ``spec``.

    Raises :class:`RequestError` (400, or 404 for an unknown example) with one line."""
    given = [key for key in ("example", "yaml", "spec") if key in body]
    if len(given) != 1:
        raise RequestError(
            400,
            'name the spec one way: {"example": NAME}, {"yaml": TEXT} or {"spec": {...}}'
            + (f" (got {', '.join(given)})" if given else ""),
        )
    key = given[0]
    value = body[key]
    if key == "example":
        if not isinstance(value, str) or value not in examples:
            known = ", ".join(examples) or "none (no examples/ folder here)"
            raise RequestError(
                404, f"unknown example {str(value)[:80]!r}; the examples are: {known}"
            )
        source = f"examples/{examples[value].name}"
        try:
            text = read_yaml_text(examples[value], SpecError)
        except SpecError as error:
            raise RequestError(400, str(error)) from None
    elif key == "yaml":
        if not isinstance(value, str):
            raise RequestError(400, "yaml: give the spec's YAML text as a string")
        if len(value) > MAX_YAML_CHARACTERS:
            raise RequestError(
                413,
                f"yaml: the spec is over {MAX_YAML_CHARACTERS // 1024} KiB; a spec is a few lines",
            )
        text, source = value, "the edited spec"
    else:
        if not isinstance(value, dict):
            raise RequestError(
                400, "spec: give the spec as a JSON object {input, target, layers, ...}"
            )
        try:
            spec = parse_spec(value, source="the spec")
        except SpecError as error:
            raise RequestError(400, str(error)) from None
        check_drawable(spec)
        return spec, "the edited spec", spec_yaml(spec)
    try:
        raw = parse_yaml_mapping(
            text, source, "a spec", SpecError, keys="input, target, layers, ..."
        )
        spec = parse_spec(raw, source=source)
    except SpecError as error:
        raise RequestError(400, str(error)) from None
    check_drawable(spec)
    return spec, source, text


def example_listing(directory: Path = EXAMPLES_DIR) -> list[dict[str, Any]]:
    """Each shipped spec's name and title, and whether the page can draw it (or why not)."""
    listing = []
    examples = example_files(directory)
    for name in examples:
        entry: dict[str, Any] = {"name": name, "title": name, "drawable": True, "reason": None}
        try:
            spec, _, _ = read_spec({"example": name}, examples)
            entry["title"] = spec.title or name
        except RequestError as error:
            entry["drawable"], entry["reason"] = False, error.message
            with contextlib.suppress(ValueError):  # a conv spec still has its title
                raw = read_yaml_mapping(examples[name], "a spec")
                entry["title"] = str(raw.get("title") or name)
        listing.append(entry)
    return listing


def check_drawable(spec: Any) -> None:
    """A 400 for a spec the page cannot draw: not dense, or too large to step through."""
    if not isinstance(spec, ExplainSpec):
        raise RequestError(
            400,
            "the page draws dense networks (each layer an activation, W and b); this spec has "
            "convolution or pooling layers: `chainrule explain SPEC` works it out in full",
        )
    widest = max(spec.widths)
    problems = []
    if spec.n_layers > MAX_LAYERS:
        problems.append(f"{spec.n_layers} layers (at most {MAX_LAYERS})")
    if widest > MAX_WIDTH:
        problems.append(f"a layer of {widest} (at most {MAX_WIDTH} neurons or inputs)")
    if spec.n_examples > MAX_EXAMPLES:
        problems.append(f"{spec.n_examples} examples (at most {MAX_EXAMPLES})")
    if spec.steps > MAX_STEPS:
        problems.append(f"{spec.steps} steps (at most {MAX_STEPS})")
    parameters = sum(len(layer.W) * (len(layer.W[0]) + 1) for layer in spec.layers)
    if not problems and parameters * spec.steps > MAX_UPDATES:
        problems.append(
            f"{parameters} weights and biases × {spec.steps} step{'s' * (spec.steps != 1)} = "
            f"{parameters * spec.steps} updates (at most {MAX_UPDATES})"
        )
    if problems:
        raise RequestError(
            400,
            f"too large to step through on the page: {'; '.join(problems)}; "
            "`chainrule explain SPEC` works it out in full",
        )


def spec_mapping(spec: ExplainSpec) -> dict[str, Any]:
    """The spec as the mapping a YAML file would hold (defaults left out, b always given), so
    the page can change one number and post it back."""
    one = spec.n_examples == 1
    mapping: dict[str, Any] = {"title": spec.title} if spec.title else {}
    if spec.description:
        mapping["description"] = spec.description
    mapping["layout"] = "textbook"
    mapping["input"] = spec.input[0] if one else spec.input
    mapping["target"] = spec.target[0] if one else spec.target
    mapping["layers"] = [
        {"activation": layer.activation, "W": layer.W, "b": list(b)}
        for layer, b in zip(spec.layers, (b.tolist() for b in spec.biases()), strict=True)
    ]
    mapping["loss"] = {k: v for k, v in spec.loss.model_dump().items() if v is not None}
    mapping["optimizer"] = spec.optimizer.engine_config()
    mapping["optimizer"]["name"] = "gd" if spec.optimizer.name == "sgd" else spec.optimizer.name
    update = spec.update.model_dump()
    if update != {"weights": True, "biases": True, "freeze": []}:
        mapping["update"] = {k: v for k, v in update.items() if v not in ([], True)}
    mapping["steps"] = spec.steps
    if not spec.fuse:
        mapping["fuse"] = False
    return mapping


def spec_yaml(spec: ExplainSpec) -> str:
    """The spec as YAML for the page's editor: rows and vectors on one line each."""
    return yaml.safe_dump(
        spec_mapping(spec), sort_keys=False, default_flow_style=None, allow_unicode=True, width=100
    )


def spec_key(spec: ExplainSpec) -> str:
    """One string per distinct spec, to cache its worked example by."""
    return json.dumps(spec.model_dump(), sort_keys=True)


class _Cache:
    """The last few worked examples (and graders) by spec: a click asks for one again."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self.items: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, kind: str, spec: ExplainSpec, make: Callable[[], Any]) -> Any:
        key = (kind, spec_key(spec))
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_CACHE = _Cache()


def worked(spec: ExplainSpec, source: str = "") -> WorkedExample:
    """explain's own record of ``spec`` (cached)."""
    return _CACHE.get("record", spec, lambda: compute(spec, source=source))


def grader(spec: ExplainSpec) -> Grader:
    """``check``'s grader for ``spec`` (cached): its right values and its chain."""
    return _CACHE.get("grader", spec, lambda: Grader(spec))


# -- the record as JSON -------------------------------------------------------------------------
def _plain(piece: Expr | str, digits: int) -> str:
    return piece if isinstance(piece, str) else doc.Math.of(piece, digits).plain


def _note(note: tuple, digits: int) -> str:
    return "".join(_plain(piece, digits) for piece in note)


def equation_line(equation: Equation, digits: int = DIGITS) -> tuple[str, str, str]:
    """(name, line, value text): the quantity's name, the equation on one line as explain
    prints it (``render``'s own equation, its sides joined as the text renderer joins them),
    and its value as shown there."""
    row = equation_row(equation, digits)
    sides = " = ".join(side.plain for side in row.rhs)
    return row.lhs.plain, f"{row.lhs.plain} {row.rel.plain} {sides}", row.rhs[-1].plain


def _classify(lhs: Expr, relation: str, n_layers: int) -> tuple[str, int, tuple[int, ...]] | None:
    """(kind, layer, textbook index) of the quantity an equation gives; None for a path."""
    if isinstance(lhs, Sym):
        if lhs.base in ("W", "b"):
            return ("θ" if relation == "<-" else lhs.base), lhs.layer or 0, lhs.index
        if lhs.base == "L":  # one example's loss in a batch
            return "L", n_layers, lhs.index
        return lhs.base, lhs.layer or 0, lhs.index
    if isinstance(lhs, Raw) and lhs.plain == "L":
        return "L", n_layers, ()
    if isinstance(lhs, Deriv) and isinstance(lhs.den, Sym):
        if isinstance(lhs.num, Raw):  # dL/da, dL/dW, dL/db
            return f"dL/d{lhs.den.base}", lhs.den.layer or 0, lhs.den.index
        if isinstance(lhs.num, Sym):  # da[i]/dz[j] of a row-wise activation
            return "J", lhs.num.layer or 0, (*lhs.num.index, *lhs.den.index)
    if isinstance(lhs, Applied) and isinstance(lhs.arg, Sym):
        return "f'", lhs.arg.layer or 0, lhs.arg.index
    if isinstance(lhs, State) and isinstance(lhs.param, Sym):
        return "state", lhs.param.layer or 0, lhs.param.index
    return None


class _Builder:
    """Walks explain's record in printing order and collects phases and values."""

    def __init__(self, spec: ExplainSpec, record: WorkedExample, digits: int) -> None:
        self.spec, self.record, self.digits = spec, record, digits
        self.phases: list[dict[str, Any]] = []
        self.values: list[dict[str, Any]] = []

    def phase(
        self, step: int, part: str, layer: int | None, title: str, blocks: list[Block]
    ) -> str:
        identifier = f"{step}:{part}" + ("" if layer is None else f":{layer}")
        formulas = [_plain(f, self.digits) for block in blocks for f in block.formulas]
        notes = [_note(note, self.digits) for block in blocks for note in block.notes]
        self.phases.append(
            {
                "id": identifier,
                "step": step,
                "part": part,
                "layer": layer,
                "title": title,
                "formulas": list(dict.fromkeys(formulas)),
                "notes": list(dict.fromkeys(notes)),
            }
        )
        return identifier

    def add(
        self, step: int, example: int, phase: str, block: Block, equation: Equation
    ) -> dict[str, Any] | None:
        found = _classify(equation.lhs, equation.relation, self.spec.n_layers)
        if found is None:
            return None
        kind, layer, index = found
        name, line, text = equation_line(equation, self.digits)
        value = {
            "id": f"{step}:{example}:{name}",
            "name": name,
            "kind": kind,
            "step": step,
            "example": example,
            "layer": layer,
            "index": list(index),
            "value": _finite(equation.value),
            "text": text,
            "line": line,
            "phase": phase,
            "block": block.title,
            "formulas": [_plain(f, self.digits) for f in block.formulas],
        }
        self.values.append(value)
        return value

    def given(self, step: int, example: int, kind: str, name: str, value: float, **extra) -> None:
        """A number the spec gives (or the last update left): x, y, W or b."""
        text = format_number(float(value), self.digits)
        extra.setdefault("line", f"{name} = {text}")
        self.values.append(
            {
                # a given W at a step's start is named as the update's new W: kept apart
                "id": f"given:{step}:{example}:{name}",
                "name": name,
                "kind": kind,
                "step": step,
                "example": example,
                "value": _finite(value),
                "text": text,
                "phase": None,
                **extra,
            }
        )

    def build(self) -> None:
        spec = self.spec
        one = spec.n_examples == 1
        vectors = [("x", "input", spec.x(), 0), ("y", "target", spec.y(), spec.n_layers)]
        for kind, key, batch, layer in vectors:
            for e, row in enumerate(batch):
                for k, value in enumerate(row):
                    path = [key, k] if one else [key, e, k]
                    where = f"the {key}, given in the spec"
                    name = f"{kind}[{k + 1}]"
                    extra = {"index": [k + 1], "layer": layer, "path": path, "block": where}
                    self.given(0, e + 1, kind, name, value, **extra)
        for step in self.record.steps:
            self._parameters(step)
            self._step(step)

    def _parameters(self, step: StepRecord) -> None:
        """W and b as this step starts: the spec's at step 1 (editable), then the updated ones."""
        s = step.number
        where = "given in the spec" if s == 1 else f"after the update of step {s - 1}"
        for n in range(1, self.spec.n_layers + 1):
            for (j, k), value in np.ndenumerate(step.W[n - 1]):
                name = f"W{n}[{j + 1},{k + 1}]"
                extra = {"path": ["layers", n - 1, "W", j, k]} if s == 1 else {}
                extra["trainable"] = self.spec.trainable(f"W{n}")
                self.given(
                    s, 0, "W", name, value, layer=n, index=[j + 1, k + 1], block=where, **extra
                )
            for j, value in enumerate(step.b[n - 1]):
                name = f"b{n}[{j + 1}]"
                extra = {"path": ["layers", n - 1, "b", j]} if s == 1 else {}
                extra["trainable"] = self.spec.trainable(f"b{n}")
                self.given(s, 0, "b", name, value, layer=n, index=[j + 1], block=where, **extra)

    def _step(self, step: StepRecord) -> None:
        s, L, m = step.number, self.spec.n_layers, self.spec.n_examples
        sections = {section.title: section for section in step.sections}
        forward, backward = sections["Forward pass"], sections["Backward pass"]
        per_example = len(forward.blocks) // m
        for layer in range(1, L + 1):
            blocks = [forward.blocks[e * per_example + layer - 1] for e in range(m)]
            title = _untitled(blocks[0].title, m)
            phase = self.phase(s, FORWARD, layer, f"Forward pass · {title}", blocks[:1])
            for e, block in enumerate(blocks, start=1):
                added = [self.add(s, e, phase, block, equation) for equation in block.equations]
                self._pre_activations(s, e, layer, phase, block, [v for v in added if v])
        loss = sections["Loss"]
        phase = self.phase(s, LOSS, None, "Loss", loss.blocks[:1])
        # one block per example, then (for a batch) the mean over them: example 0
        for index, block in enumerate(loss.blocks[1:], start=1):
            example = index if index <= m else 0
            for equation in block.equations:
                self.add(s, example, phase, block, equation)
        per_example = len(backward.blocks) // m
        for offset in range(L):
            layer = L - offset
            blocks = [backward.blocks[e * per_example + offset] for e in range(m)]
            title = _untitled(blocks[0].title, m)
            phase = self.phase(s, BACKWARD, layer, f"Backward pass · {title}", blocks[:1])
            for e, block in enumerate(blocks, start=1):
                for equation in block.equations:
                    self.add(s, e, phase, block, equation)
        gradients = sections["Gradients"]
        phase = self.phase(s, GRADIENTS, None, "Gradients", gradients.blocks)
        for block in gradients.blocks:
            for equation in block.equations:
                self.add(s, 0, phase, block, equation)
        update = sections["Update"]
        phase = self.phase(s, UPDATE, None, "Update", update.blocks[:1])
        for block in update.blocks[1:]:
            for equation in block.equations:
                self.add(s, 0, phase, block, equation)

    def _pre_activations(
        self, step: int, example: int, layer: int, phase: str, block: Block, added: list[dict]
    ) -> None:
        """z of an element-wise layer: its number, shown by explain inside a's line."""
        if any(v["kind"] == "z" for v in added):
            return  # a row-wise layer (softmax) prints its z lines itself
        state = self.record.steps[step - 1].examples[example - 1]
        for a in [v for v in added if v["kind"] == "a"]:
            j = a["index"][0]
            z = float(state.z[layer - 1][j - 1])
            name = f"z{layer}[{j}]"
            entry = {
                **a,
                "id": f"{step}:{example}:{name}",
                "name": name,
                "kind": "z",
                "value": _finite(z),
                "text": format_number(z, self.digits),
                "shown_in": a["name"],
            }
            self.values.insert(self.values.index(a), entry)


def _untitled(title: str, m: int) -> str:
    """A block's title without the "example 1 of 2: " a batch puts before it."""
    return title.split(": ", 1)[1] if m > 1 and title.startswith("example ") else title


def _finite(value: float) -> float | None:
    """JSON has no NaN or infinity: such a value is sent as null (its text still says it)."""
    value = float(value)
    return value if np.isfinite(value) else None


def record_json(spec: ExplainSpec, source: str, text: str, digits: int = DIGITS) -> dict[str, Any]:
    """The worked example of ``spec`` as the page reads it (see the module's docstring)."""
    record = worked(spec, source)
    builder = _Builder(spec, record, digits)
    builder.build()
    layers = []
    for number, layer in enumerate(spec.layers, start=1):
        math = layer.math
        layers.append(
            {
                "number": number,
                "activation": layer.activation_name,
                "symbol": math.symbol.text,
                "elementwise": math.elementwise,
                "trainable": {"W": spec.trainable(f"W{number}"), "b": spec.trainable(f"b{number}")},
            }
        )
    steps = []
    for step in record.steps:
        verification = next(s for s in step.sections if s.title == "Verification")
        steps.append(
            {
                "number": step.number,
                "loss": _finite(step.loss),
                "verification": [_note(n, digits) for b in verification.blocks for n in b.notes],
                "passed": step.verification.passed,
            }
        )
    return {
        "title": spec.title or "Worked example",
        "description": spec.description,
        "source": source,
        "yaml": text,
        "spec": spec_mapping(spec),
        "digits": digits,
        "network": {
            "widths": spec.widths,
            "layers": layers,
            "loss": spec.loss.name,
            "fused": spec.fused,
            "examples": spec.n_examples,
            "steps": spec.steps,
        },
        "overview": _section_lines(record.overview, digits),
        "summary": _section_lines(record.summary, digits),
        "steps": steps,
        "phases": builder.phases,
        "values": builder.values,
        "practice": _practice_note(spec),
        "practice_names": [] if _practice_note(spec) else list(Chain(spec).by_name),
        "choices": choices(),
    }


def _section_lines(section: Section, digits: int) -> list[str]:
    return [_note(note, digits) for block in section.blocks for note in block.notes]


def _practice_note(spec: ExplainSpec) -> str | None:
    """Why practice mode is off for this spec, or None when it is on."""
    if spec.n_examples != 1:
        return (
            f"practice checks one example; this spec has {spec.n_examples} (give one input "
            "and one target)"
        )
    return None


def choices() -> dict[str, list[dict[str, str]]]:
    """What the page's menus offer: activations with a math description, losses, optimizers
    explain writes out (as the spec names them)."""
    activations = [
        {"name": name, "label": layer.math.symbol.text}
        for name in ACTIVATIONS.names()
        if (layer := get_activation(name)).math is not None
    ]
    losses = [{"name": name, "label": name.replace("_", " ")} for name in LOSSES.names()]
    optimizers = [
        {"name": "gd" if name == "sgd" else name, "label": OPTIMIZERS.get(name).math.short_name}
        for name in explained_optimizers()
    ]
    return {"activations": activations, "losses": losses, "optimizers": optimizers}


# -- chain-rule paths ---------------------------------------------------------------------------
def count_paths(spec: ExplainSpec, layer: int) -> int:
    """How many chain-rule paths reach a parameter of ``layer`` (from explain's paths rule:
    one per route through each layer above, through every output of a row-wise one)."""
    L, widths = spec.n_layers, spec.widths
    from_a = 1  # paths from L to one a_L[i]
    from_z = 1 if spec.fused else (1 if spec.layers[-1].math.elementwise else widths[L])
    for number in range(L - 1, layer - 1, -1):
        from_a = widths[number + 1] * from_z
        from_z = from_a if spec.layers[number - 1].math.elementwise else widths[number] * from_a
    return from_z


def _node(symbol: Expr) -> str | None:
    """The drawn neuron a symbol lives on: ``1:2`` for a1[2] or z1[2], ``0:1`` for x[1]."""
    if isinstance(symbol, Sym) and symbol.base in ("a", "z", "x"):
        return f"{symbol.layer or 0}:{symbol.index[0]}"
    return None


def _route(path: ChainPath) -> dict[str, list[str]]:
    """The neurons and weights one path runs through, for the drawing to light up."""
    neurons: list[str] = []
    weights: list[str] = []
    for factor in path.factors:
        symbol = factor.symbol
        if not isinstance(symbol, Deriv):
            continue
        for end in (symbol.num, symbol.den):
            node = _node(end)
            if node and node not in neurons:
                neurons.append(node)
        num, den = symbol.num, symbol.den
        if (
            isinstance(num, Sym)
            and num.base == "z"
            and isinstance(den, Sym)
            and den.base in ("a", "x")
        ):
            weights.append(f"W{num.layer}[{num.index[0]},{den.index[0]}]")
        if isinstance(den, Sym) and den.base == "W":
            weights.append(f"W{den.layer}[{den.index[0]},{den.index[1]}]")
    return {"neurons": neurons, "weights": weights}


def paths_json(
    spec: ExplainSpec, parameter: str, step: int, digits: int = DIGITS
) -> dict[str, Any]:
    """Every chain-rule path from L to ``parameter`` at ``step``: explain's printed lines,
    each path's product, the sum, and the neurons and weights each path runs through."""
    if not isinstance(parameter, str):
        raise RequestError(400, 'parameter: give a weight or bias as text, e.g. "W1[1,1]"')
    try:
        target = parse_parameter(parameter, spec)
    except ValueError as error:
        raise RequestError(400, str(error).replace("--paths ", "parameter ")) from None
    try:
        step = check_integer(step, "step", minimum=1, maximum=spec.steps)
    except ValueError as error:
        raise RequestError(400, str(error)) from None
    count = count_paths(spec, target.layer)
    if count > MAX_PATHS:
        raise RequestError(
            400,
            f"{target.name} has {count} chain-rule paths, more than the {MAX_PATHS} the page "
            f"draws; `chainrule explain SPEC --paths '{target.name}'` sums them all",
        )
    record = worked(spec)
    path_set = enumerate_paths(spec, record.steps[step - 1], target)
    section = paths_section(spec, [path_set])
    lines = []
    for block in section.blocks:
        lines.append({"title": block.title, "notes": [_note(n, digits) for n in block.notes]})
        lines[-1]["equations"] = [equation_line(e, digits)[1] for e in block.equations]
    examples = []
    for paths, total in zip(path_set.per_example, path_set.sums, strict=True):
        examples.append(
            {
                "sum": _finite(total),
                "paths": [
                    {
                        "product": _finite(path.product),
                        "factors": [_plain(f.symbol, digits) for f in path.factors],
                        **_route(path),
                    }
                    for path in paths
                ],
            }
        )
    return {
        "parameter": target.name,
        "step": step,
        "count": count,
        "total": _finite(path_set.total),
        "gradient": _finite(path_set.gradient),
        "agrees": path_set.agrees,
        "blocks": lines,
        "examples": examples,
    }


# -- practice: check ------------------------------------------------------------------------------
def check_json(spec: ExplainSpec, answers: Any) -> dict[str, Any]:
    """``check``'s verdict on each answered number of step 1 (names as explain prints them)."""
    reason = _practice_note(spec)
    if reason is not None:
        raise RequestError(400, reason)
    if not isinstance(answers, dict) or not answers:
        raise RequestError(400, 'answers: give your numbers by name, e.g. {"a1[1]": "0.49"}')
    given = {}
    for name, value in answers.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise RequestError(400, f'answers: {name}: give the number as text, e.g. "0.49"')
        given[name] = str(value)
    try:
        result = grader(spec).check(given)
    except ValueError as error:
        raise RequestError(400, str(error)) from None
    answered = [r for r in result.results if r.verdict != "missing"]
    first = result.first_wrong
    return {
        "first_wrong": None if first is None else first.name,
        "counts": {v: result.count(v) for v in ("right", "follows", "wrong")},
        "quantities": [
            {
                "name": r.name,
                "step": r.step,
                "verdict": r.verdict,
                "verdict_text": r.verdict_text,
                "given": r.given_text,
                "follows_from": list(r.follows_from),
                "mistake": None if r.diagnosis is None else r.diagnosis.mistake,
                "message": None if r.diagnosis is None else r.diagnosis.message,
            }
            for r in answered
        ],
    }


# -- the routes -----------------------------------------------------------------------------------
def _digits(body: Mapping[str, Any]) -> int:
    try:
        return check_integer(body.get("digits", DIGITS), "digits", minimum=1, maximum=10)
    except ValueError as error:
        raise RequestError(400, str(error)) from None


def routes(
    page_headers: Mapping[str, str] | None = None, examples_dir: Path = EXAMPLES_DIR
) -> list[Route]:
    """The page's routes, for the app's route table; ``page_headers`` go with the page
    (the app's Content-Security-Policy)."""
    headers = dict(page_headers or {})

    async def page(request: Request) -> FileResponse:
        return FileResponse(STATIC / "step.html", headers=headers)

    async def examples(request: Request) -> JSONResponse:
        listing = await run_in_threadpool(example_listing, examples_dir)
        return JSONResponse({"examples": listing, "starter": STARTER_SPEC})

    def endpoint(answer: Callable[[dict[str, Any], ExplainSpec, str, str], dict[str, Any]]):
        async def handle(request: Request) -> JSONResponse:
            started = time.perf_counter()
            try:
                body = await read_json(request)

                def work() -> dict[str, Any]:
                    spec, source, text = read_spec(body, example_files(examples_dir))
                    # numbers a spec drives past float64 are sent as null, their text "inf"
                    with np.errstate(all="ignore"):
                        return answer(body, spec, source, text)

                result = await run_in_threadpool(work)
            except RequestError as error:
                return error_response(error.status, error.message)
            except ArithmeticError as error:  # numbers a spec drives past float64
                return error_response(
                    400,
                    f"cannot work this spec out ({error}): its numbers overflow or saturate; "
                    "try smaller weights or inputs",
                )
            except ValueError as error:
                return error_response(400, f"cannot work this spec out: {error}")
            result["milliseconds"] = round((time.perf_counter() - started) * 1000, 1)
            return JSONResponse(result)

        return handle

    def step(body: dict, spec: ExplainSpec, source: str, text: str) -> dict[str, Any]:
        return record_json(spec, source, text, _digits(body))

    def paths(body: dict, spec: ExplainSpec, source: str, text: str) -> dict[str, Any]:
        return paths_json(spec, body.get("parameter"), body.get("step", 1), _digits(body))

    def check(body: dict, spec: ExplainSpec, source: str, text: str) -> dict[str, Any]:
        return check_json(spec, body.get("answers"))

    return [
        Route("/step", page),
        Route("/api/step/examples", examples),
        Route("/api/step", endpoint(step), methods=["POST"]),
        Route("/api/step/paths", endpoint(paths), methods=["POST"]),
        Route("/api/step/check", endpoint(check), methods=["POST"]),
    ]
