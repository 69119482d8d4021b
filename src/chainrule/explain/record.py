"""The record of a worked example: every number, and the equations that print it.

``compute`` (``chainrule.explain.worked``) fills these; ``render`` prints them; programs and
tests read the arrays. A printed number is an :class:`Equation` (formula, then the same
formula with numbers, then the value), grouped into titled :class:`Block` s and
:class:`Section` s in printing order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chainrule.explain.spec import ConvSpec, ExplainSpec
from chainrule.reporting.display import RichDisplay
from chainrule.reporting.expr import Expr, Style


@dataclass
class Equation:
    """``lhs relation rhs[0] = rhs[1] = ... = value``: formulas first, then numbers."""

    lhs: Expr
    rhs: list[Expr]
    value: float
    relation: str = "="  # "=" or "<-" (an assignment: an update)
    #: For an update, the old value: the new one is printed with enough digits to show the change.
    reference: float | None = None


Note = tuple  # segments, each a str (prose) or an Expr (math)


@dataclass
class Block:
    """A titled group: general formulas first, then notes, matrices, then the equations."""

    title: str
    formulas: list[Expr] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    #: Groups printed side by side: (name, values) or (name, values, values before an update).
    matrices: list[list[tuple]] = field(default_factory=list)
    equations: list[Equation] = field(default_factory=list)
    #: Feature maps and kernels, groups printed side by side: (name, 2-D values[, before]);
    #: printed after the matrices, with rows and columns numbered from 1.
    maps: list[list[tuple]] = field(default_factory=list)


@dataclass(repr=False)
class Section(RichDisplay):
    """A titled part of the worked example (a step's forward pass, its loss, ...). In a
    notebook it shows itself, so one part can be read on its own (``WorkedExample.section``):
    as Markdown, whose math the notebook typesets, since reading that math is its point."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    latex_display = True
    html_display = False

    def __repr__(self) -> str:
        # one line (what a console shows), not every formula of every block
        count = len(self.blocks)
        return f"Section({self.title!r}, {count} block{'s' * (count != 1)})"


@dataclass
class ExampleState:
    """One example's numbers at one step; lists are indexed by layer - 1."""

    x: np.ndarray
    y: np.ndarray
    z: list[np.ndarray]
    a: list[np.ndarray]
    loss: float
    #: dL/da_l; None for the output layer when the loss is fused with its activation.
    dL_da: list[np.ndarray | None]
    #: f_l'(z_l) (a vector), or the softmax Jacobian J[i, j] = da_l[i]/dz_l[j]; None when fused.
    local: list[np.ndarray | None]
    delta: list[np.ndarray]

    def activation_input(self, layer: int) -> np.ndarray:
        """a_{layer-1}, the input of layer ``layer`` (x for layer 1)."""
        return self.x if layer == 1 else self.a[layer - 2]


@dataclass
class ConvExampleState(ExampleState):
    """The image's numbers in a convolutional spec; lists are indexed by layer - 1.

    Feature maps keep their (channels, height, width) shape: x (C, H, W), z_l and a_l of a
    conv layer (filters, Ho, Wo), a_l of a pooling layer (C, Ho, Wo), of flatten and dense
    layers vectors. ``z`` is None for pooling and flatten layers (they have no parameters);
    ``delta[l]`` is dL/dz_l for conv and dense layers and dL/da_l for pooling and flatten.
    ``local[l]`` is f'(z_l) of a conv layer's activation, shaped like z_l.
    """

    #: dL/dx, the gradient for the image itself (the first layer's input gradient).
    dL_dx: np.ndarray = field(default_factory=lambda: np.empty(0))
    #: For each max-pooling layer (by number): (C, Ho, Wo, 2) row and column (0-based, in
    #: the pool's input) of the entry each window passes on: the engine's choice.
    routes: dict[int, np.ndarray] = field(default_factory=dict)

    def input_gradient(self, layer: int) -> np.ndarray:
        """dL/da_{layer-1}: what layer ``layer`` hands down (dL/dx for layer 1)."""
        return self.dL_dx if layer == 1 else self.dL_da[layer - 2]


@dataclass
class Verification:
    """This computation against the engine's backward pass and against finite differences."""

    engine_max_difference: float
    engine_loss_difference: float
    fd_max_difference: float
    fd_max_relative_error: float
    engine_passed: bool
    fd_passed: bool
    #: Pre-activations on a kink ("z1[2] = 0 (ReLU)"), where the derivative is one-sided.
    kinks: list[str] = field(default_factory=list)
    #: Convolutional specs: the largest difference between a written-out sum (a convolution
    #: pixel, a pooled value, a dW or dL/dx entry, added up as printed) and the engine's value.
    arithmetic_max_difference: float | None = None
    #: Convolutional specs: dL/dx against finite differences of the loss in the image.
    input_fd_max_difference: float | None = None

    @property
    def passed(self) -> bool:
        return self.engine_passed and self.fd_passed


@dataclass(repr=False)
class StepRecord(RichDisplay):
    """One training step: the numbers, and the sections that print them.

    In a convolutional spec W, b, dW, db, W_new and b_new hold None for layers without
    parameters; a conv layer's W is (filters, channels, kh, kw), a dense layer's textbook
    (n_out, n_in).
    """

    number: int
    W: list[np.ndarray]
    b: list[np.ndarray]
    examples: list[ExampleState]
    loss: float
    dW: list[np.ndarray]
    db: list[np.ndarray]
    W_new: list[np.ndarray]
    b_new: list[np.ndarray]
    sections: list[Section]
    verification: Verification
    paths: list = field(default_factory=list)  # list[paths.PathSet], step 1 only

    # In a notebook a step shows itself (RichDisplay: explain.render registers its document).
    latex_display = True

    def __repr__(self) -> str:
        verdict = "verified" if self.verification.passed else "NOT verified"
        return (
            f"StepRecord({self.number}, loss {self.loss:.6g}, "
            f"{len(self.sections)} sections, gradients {verdict})"
        )


@dataclass(repr=False)
class WorkedExample(RichDisplay):
    spec: ExplainSpec | ConvSpec
    source: str
    overview: Section
    steps: list[StepRecord]
    final_loss: float
    final_W: list[np.ndarray]
    final_b: list[np.ndarray]
    summary: Section

    # In a notebook the record shows itself as the worked example (RichDisplay: explain.render
    # registers its document); the plain repr stays one line, not every array.
    latex_display = True

    def __repr__(self) -> str:
        steps = len(self.steps)
        first = self.steps[0].loss if self.steps else self.final_loss
        return (
            f"WorkedExample({self.spec.title or 'worked example'!r}, from "
            f"{self.source or 'a spec given in code'}, {steps} step{'s' * (steps != 1)}, "
            f"loss {first:.6g} -> {self.final_loss:.6g})"
        )

    def section(self, title: str, step: int = 1) -> Section:
        """The section ``title`` of step ``step`` ("Forward pass", "Loss", "Backward pass",
        "Gradients", "Chain-rule paths", "Update", "Verification"), or the example's
        "Network" or "Summary"; it displays itself in a notebook."""
        if not 1 <= step <= len(self.steps):
            raise ValueError(
                f"step {step} is not in this worked example: it has steps 1 to {len(self.steps)}"
            )
        sections = [self.overview, *self.steps[step - 1].sections, self.summary]
        for section in sections:
            if section.title == title:
                return section
        titles = ", ".join(repr(section.title) for section in sections)
        raise ValueError(f"no section {title!r} in step {step}: choose one of {titles}")


def equation_values(sections: list[Section]) -> dict[str, float]:
    """Every printed number by its printed name: ``{"z1[1,2,3]": 0.49, "dL/dW1[1,1,2,1]": ...}``.

    The names are the plain forms of the equations' left-hand sides, as the text output prints
    them (and as ``chainrule.classroom.quantities`` names its quantities); where a name is
    printed twice (an update's rules) the last value wins.
    """
    style = Style()
    values = {}
    for section in sections:
        for block in section.blocks:
            for equation in block.equations:
                values[equation.lhs.text(style)] = float(equation.value)
    return values
