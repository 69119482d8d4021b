"""Whether a drawn exercise is fit to be worked by hand, and if not, why.

A draw is rejected for the first of these that holds, at any step and any example:

    dead        a ReLU layer with every z <= 0: no gradient reaches the layers before it
    kink        a ReLU / leaky-ReLU pre-activation with |z| < margin: the derivative jumps at
                0, so a slip in the last digit changes it (and at 0 it is one-sided); in a
                convolution, any pixel of the feature map
    saturated   a sigmoid / tanh whose derivative has fallen below ``saturation`` of its peak
                (σ'(z)/σ'(0) = 4a(1 - a), tanh'(z) = 1 - a²): the gradient vanishes through it
    softmax_tie two softmax outputs within ``tie`` of each other: no clear prediction
    pool_tie    a max-pooling window whose two largest entries lie within ``tie``: a slip
                moves its maximum, and so where its gradient goes (exact ties, zeros after a
                ReLU among them, follow the engine's first-maximum rule, not a hand rule)
    swamped     a gradient the sheet asks for, |g| > 0, that rounding to the sheet's decimals
                moves by more than ``swamp`` of itself: 0.5·10^-D > swamp·|g|

``reasons(record, asked, settings)`` lists them all; ``Rejections`` counts the first of each
rejected draw, so its counts add up to the number of draws rejected.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from chainrule.classroom import conv_math
from chainrule.explain.conv_paths import ConvParameter
from chainrule.explain.conv_steps import Geometry
from chainrule.explain.paths import Parameter
from chainrule.explain.record import ExampleState, StepRecord, WorkedExample
from chainrule.explain.spec import PoolLayerSpec
from chainrule.utils.validation import check_integer, check_number

#: Each reason, as the report says it.
REASONS = {
    "dead": "a ReLU layer dead (every z <= 0)",
    "kink": "a ReLU pre-activation near its kink at 0",
    "saturated": "a sigmoid/tanh saturated",
    "softmax_tie": "two softmax outputs tied",
    "pool_tie": "two maxima of a max-pooling window tied",
    "swamped": "a gradient swamped by rounding",
}

KINKED = ("relu", "leaky_relu")
SATURATING = ("sigmoid", "tanh", "improved_sigmoid")
#: improved_sigmoid is 1.7159·tanh(2z/3): its derivative relative to its peak is 1 - (a/1.7159)².
IMPROVED_SIGMOID_SCALE = 1.7159


@dataclass(frozen=True)
class GuardSettings:
    """The margins of the rules above; ``decimals``: places the sheet asks answers to."""

    margin: float = 0.05
    saturation: float = 0.08
    tie: float = 0.01
    swamp: float = 0.1
    decimals: int = 4

    def __post_init__(self) -> None:
        check_number(self.margin, "margin", minimum=0)
        check_number(self.saturation, "saturation", minimum=0, maximum=1)
        check_number(self.tie, "tie", minimum=0)
        check_number(self.swamp, "swamp", minimum=0, maximum=1)
        check_integer(self.decimals, "answer decimals", minimum=1, maximum=12)


def reasons(record: WorkedExample, asked: list[Parameter], settings: GuardSettings) -> list[str]:
    """Every rule (a key of ``REASONS``) the worked example breaks, in the order above.

    ``asked``: the gradients the sheet asks for (``Parameter("W", 1, 1, 2)`` is dL/dW1[1,2]).
    """
    spec = record.spec
    found: list[str] = []
    for step in record.steps:
        for example in step.examples:
            found += example_reasons(spec, example, settings)
        half_unit = 0.5 * 10.0**-settings.decimals
        for parameter in asked:
            g = abs(gradient_of(step, parameter))
            if g > 0 and half_unit > settings.swamp * g:
                found.append("swamped")
    return [reason for reason in REASONS if reason in found]


def example_reasons(spec, example: ExampleState, settings: GuardSettings) -> list[str]:
    """The rules one example's forward pass breaks (all but ``swamped``), in order: what a
    draw can be screened on before its worked example is written out."""
    found: list[str] = []
    for number, layer in enumerate(spec.layers, start=1):
        if isinstance(layer, PoolLayerSpec):
            if layer.is_max and _pool_gap(example, spec, number) < settings.tie:
                found.append("pool_tie")
            continue
        name = getattr(layer, "activation_name", None)  # flatten has none
        z, a = example.z[number - 1], example.a[number - 1]
        if name is None or z is None:
            continue
        if name == "relu" and np.all(z <= 0):
            found.append("dead")
        if name in KINKED and np.any(np.abs(z) < settings.margin):
            found.append("kink")
        if name in SATURATING and np.any(_relative_slope(name, a) < settings.saturation):
            found.append("saturated")
        if name == "softmax" and _closest_pair(a) < settings.tie:
            found.append("softmax_tie")
    return [reason for reason in REASONS if reason in found]


def _pool_gap(example, spec, number: int) -> float:
    """The smallest gap between a max-pooling window's largest and second largest entry."""
    engine = spec.engine_layers()[number - 1]
    entries = conv_math.windows(example.activation_input(number), Geometry(engine))
    ordered = np.sort(entries, axis=-1)
    return float(np.min(ordered[..., -1] - ordered[..., -2])) if ordered.shape[-1] > 1 else np.inf


def gradient_of(step: StepRecord, parameter: Parameter | ConvParameter) -> float:
    """dL/dθ of one scalar parameter at one step."""
    if isinstance(parameter, ConvParameter):
        tensor = step.dW if parameter.kind == "W" else step.db
        return float(tensor[parameter.layer - 1][tuple(i - 1 for i in parameter.index)])
    if parameter.kind == "W":
        return float(step.dW[parameter.layer - 1][parameter.row - 1, parameter.column - 1])
    return float(step.db[parameter.layer - 1][parameter.row - 1])


def _relative_slope(name: str, a: np.ndarray) -> np.ndarray:
    """f'(z)/f'(0), from the output a."""
    if name == "sigmoid":
        return 4 * a * (1 - a)
    if name == "tanh":
        return 1 - a**2
    return 1 - (a / IMPROVED_SIGMOID_SCALE) ** 2


def _closest_pair(a: np.ndarray) -> float:
    ordered = np.sort(a)
    return float(np.min(np.diff(ordered))) if len(ordered) > 1 else np.inf


class Rejections(Counter):
    """How many draws were rejected, by (first) reason."""

    def describe(self) -> str:
        """``"5 draws rejected: 3 a ReLU pre-activation near its kink at 0, 2 ..."``."""
        total = sum(self.values())
        if not total:
            return "0 draws rejected"
        parts = [f"{self[key]} {REASONS[key]}" for key in REASONS if self[key]]
        return f"{total} draw{'s' * (total != 1)} rejected: {', '.join(parts)}"
