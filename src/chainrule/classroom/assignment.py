"""One student's exercise: a well-posed draw, solved by ``explain``, and what the sheet asks.

``make_variant(template, student, settings)`` draws the student's numbers (``variants``), works
them with ``explain``'s ``compute`` (the worked record is the answer key) and asks the guard
(``wellposed``) whether they are fit for hand work; a rejected draw is counted by reason and
drawn again, up to ``settings.max_draws`` times. Everything is a function of (template,
settings, student), so a key is regenerated from the student's id alone.

The tasks a sheet may set, in working order::

    forward    every z_l[j] and a_l[j]
    loss       L
    deltas     every δ_l[j] = dL/dz_l[j] (and dL/da_L[j] when the loss is not fused); in a
               convolutional spec also what the flatten and pooling layers hand down, dL/da
    dx         a convolutional spec's gradient for the image, dL/dx[c,u,v] (the first
               convolution's full convolution of δ with the flipped kernel)
    gradients  dL/dW_l[j,k] and dL/db_l[j] of the trained tensors, or of ``weights`` only
    update     every trained parameter after the step (or ``weights`` only)
    paths      the chain-rule paths from L to each of ``weights``, and their sum
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.classroom.variants import DrawSettings, draw_spec, variant_id
from chainrule.classroom.wellposed import GuardSettings, Rejections, example_reasons, reasons
from chainrule.explain.conv_numbers import conv_example_state
from chainrule.explain.conv_paths import ConvParameter, parse_conv_parameter
from chainrule.explain.paths import Parameter, parse_parameter
from chainrule.explain.record import WorkedExample
from chainrule.explain.spec import ConvSpec, ExplainSpec, parse_spec
from chainrule.explain.worked import compute
from chainrule.utils.validation import check_integer

TASKS = ("forward", "loss", "deltas", "dx", "gradients", "update", "paths")
DEFAULT_TASKS = ("forward", "loss", "deltas", "dx", "gradients", "update")
#: Tasks only a convolutional spec sets (a dense sheet leaves them out).
CONV_TASKS = ("dx",)


@dataclass(frozen=True)
class ExerciseSettings:
    """How every variant of one class exercise is made."""

    draw: DrawSettings = field(default_factory=DrawSettings)
    guard: GuardSettings = field(default_factory=GuardSettings)
    tasks: tuple[str, ...] = DEFAULT_TASKS
    #: Parameters named for the gradients, update and paths tasks ("W1[1,1]"); () = all trained.
    weights: tuple[str, ...] = ()
    max_draws: int = 1000

    def __post_init__(self) -> None:
        tasks = tuple(self.tasks)
        unknown = [task for task in tasks if task not in TASKS]
        if unknown or not tasks:
            raise ValueError(
                f"tasks must name one or more of {', '.join(TASKS)}, got "
                f"{', '.join(tasks) or '(none)'}"
            )
        if "paths" in tasks and not self.weights:
            raise ValueError("the paths task needs a named weight, e.g. weights W1[1,1]")
        object.__setattr__(self, "tasks", tuple(t for t in TASKS if t in tasks))
        object.__setattr__(self, "weights", tuple(self.weights))
        check_integer(self.max_draws, "max_draws", minimum=1)


@dataclass
class Variant:
    """One student's exercise: the spec drawn for them, its worked record (the key) and the
    draws rejected on the way."""

    student: str
    variant_id: str
    raw: dict[str, Any]
    spec: ExplainSpec | ConvSpec
    record: WorkedExample
    asked: list[Parameter] | list[ConvParameter]
    rejections: Rejections
    draw: int
    settings: ExerciseSettings

    @property
    def tasks(self) -> tuple[str, ...]:
        """The settings' tasks this spec has quantities for (dx: a convolutional spec's)."""
        if self.conv:
            return self.settings.tasks
        return tuple(task for task in self.settings.tasks if task not in CONV_TASKS)

    @property
    def conv(self) -> bool:
        return isinstance(self.spec, ConvSpec)


def asked_parameters(
    spec: ExplainSpec | ConvSpec, settings: ExerciseSettings
) -> list[Parameter] | list[ConvParameter]:
    """The scalars whose gradient (and update) the sheet asks for: the named ``weights``, or
    every entry of every trained tensor."""
    if settings.weights:
        parse = parse_conv_parameter if isinstance(spec, ConvSpec) else parse_parameter
        try:
            return [parse(text, spec) for text in settings.weights]  # type: ignore[arg-type]
        except ValueError as error:  # explain's parser names its own flag, --paths
            raise ValueError(str(error).replace("--paths ", "--weights ", 1)) from None
    if isinstance(spec, ConvSpec):
        found = []
        for n, (W, b) in enumerate(zip(spec.weights(), spec.biases(), strict=True), start=1):
            for kind, tensor in (("W", W), ("b", b)):
                if tensor is not None and spec.trainable(f"{kind}{n}"):
                    found += [
                        ConvParameter(kind, n, tuple(i + 1 for i in index))
                        for index in np.ndindex(*tensor.shape)
                    ]
        return found
    asked = []
    for n in range(1, spec.n_layers + 1):
        rows, columns = spec.widths[n], spec.widths[n - 1]
        if spec.trainable(f"W{n}"):
            asked += [
                Parameter("W", n, j, k) for j in range(1, rows + 1) for k in range(1, columns + 1)
            ]
        if spec.trainable(f"b{n}"):
            asked += [Parameter("b", n, j) for j in range(1, rows + 1)]
    return asked


def make_variant(template: dict[str, Any], student: str, settings: ExerciseSettings) -> Variant:
    """The first well-posed draw for ``student``; a ValueError after ``max_draws`` rejections
    names the reasons, so the ranges or margins can be changed."""
    rejections = Rejections()
    paths = list(settings.weights) if "paths" in settings.tasks else None
    ident = variant_id(settings.draw.seed, student)
    source = f"variant {ident} ({student})"
    for draw in range(settings.max_draws):
        raw = draw_spec(template, student, settings.draw, draw)
        spec = parse_spec(raw, source=source)
        if isinstance(spec, ConvSpec):
            # the engine's forward pass first: most conv draws fail on a kink or a pooling
            # tie, and writing out every pixel's arithmetic costs ten times as much
            state, _ = conv_example_state(spec, spec.weights(), spec.biases())
            early = example_reasons(spec, state, settings.guard)
            if early:
                rejections[early[0]] += 1
                continue
        record = compute(spec, paths=paths, source=source)
        asked = asked_parameters(spec, settings)
        broken = reasons(record, asked if _asks_gradients(settings) else [], settings.guard)
        if not broken:
            return Variant(student, ident, raw, spec, record, asked, rejections, draw, settings)
        rejections[broken[0]] += 1
    raise ValueError(
        f"no well-posed draw for {student!r} in {settings.max_draws} tries "
        f"({rejections.describe()}); widen the ranges, lower the margins or vary fewer kinds"
    )


def _asks_gradients(settings: ExerciseSettings) -> bool:
    return bool({"gradients", "update", "paths"} & set(settings.tasks))
