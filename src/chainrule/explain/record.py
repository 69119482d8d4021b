"""The record of a worked example: every number, and the equations that print it.

``compute`` (``chainrule.explain.worked``) fills these; ``render`` prints them; programs and
tests read the arrays. A printed number is an :class:`Equation` (formula, then the same
formula with numbers, then the value), grouped into titled :class:`Block` s and
:class:`Section` s in printing order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chainrule.explain.spec import ExplainSpec
from chainrule.reporting.expr import Expr


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


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


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

    @property
    def passed(self) -> bool:
        return self.engine_passed and self.fd_passed


@dataclass
class StepRecord:
    """One training step: the numbers, and the sections that print them."""

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


@dataclass
class WorkedExample:
    spec: ExplainSpec
    source: str
    overview: Section
    steps: list[StepRecord]
    final_loss: float
    final_W: list[np.ndarray]
    final_b: list[np.ndarray]
    summary: Section
