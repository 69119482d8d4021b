"""One student's numbers: hand-friendly values drawn as a pure function of (seed, student id).

A variant is an ordinary ``explain`` spec (``chainrule.explain.spec``): the template's
architecture and conventions with new numbers. What is drawn, per kind::

    inputs    x[k]        uniform on the kind's range, rounded to ``decimals`` places (a
                          convolutional spec: every pixel x[c,i,j] of its image)
    weights   W_l[j,k]    likewise (a convolution: every kernel entry W_l[o,c,p,q])
    biases    b_l[j]      likewise
    targets   y[j]        likewise for MSE; 0 or 1 for binary cross-entropy; one-hot for
                          softmax + categorical cross-entropy

The generator is seeded from a hash of ``(seed, student, draw)``, never from global state, so a
student's key is regenerated from the id alone; ``draw`` counts the redraws that the
well-posedness guard (``wellposed``) asked for.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.explain.spec import is_conv_spec, parse_spec
from chainrule.nn.losses import LOSSES
from chainrule.utils.validation import check_integer, check_number

#: The kinds of numbers a variant may redraw, in the order the sheet lists them.
KINDS = ("inputs", "weights", "biases", "targets")

#: Default ranges per kind (low, high); targets of MSE default to [0, 1] (a sigmoid's range).
DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    "inputs": (-1.0, 1.0),
    "weights": (-1.0, 1.0),
    "biases": (-0.5, 0.5),
    "targets": (0.0, 1.0),
}


@dataclass(frozen=True)
class DrawSettings:
    """What to draw and how: ``vary`` names kinds from ``KINDS``; ``ranges`` overrides
    ``DEFAULT_RANGES`` per kind; ``decimals`` places after the point (1: 0.3, -0.7)."""

    seed: int = 0
    vary: tuple[str, ...] = KINDS
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    decimals: int = 1

    def __post_init__(self) -> None:
        check_integer(self.seed, "seed", minimum=0)
        check_integer(self.decimals, "decimals", minimum=0, maximum=6)
        vary = tuple(self.vary)
        unknown = [kind for kind in vary if kind not in KINDS]
        if unknown or not vary:
            raise ValueError(
                f"vary must name one or more of {', '.join(KINDS)}, got {', '.join(vary) or '(none)'}"
            )
        object.__setattr__(self, "vary", vary)
        ranges = dict(self.ranges)
        for kind, bounds in ranges.items():
            if kind not in KINDS:
                raise ValueError(f"ranges: unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}")
            low, high = (check_number(v, f"ranges[{kind!r}]") for v in bounds)
            if not low < high:
                raise ValueError(f"ranges[{kind!r}] must be low < high, got {low:g}:{high:g}")
        object.__setattr__(self, "ranges", ranges)

    def range_of(self, kind: str) -> tuple[float, float]:
        return self.ranges.get(kind, DEFAULT_RANGES[kind])


def variant_id(seed: int, student: str) -> str:
    """A short stable name of (seed, student): the first 8 hex digits of their SHA-256."""
    return hashlib.sha256(f"{seed}:{student}".encode()).hexdigest()[:8]


def variant_rng(seed: int, student: str, draw: int = 0) -> np.random.Generator:
    """The generator for one draw of one student's numbers, from (seed, student, draw) alone."""
    digest = hashlib.sha256(f"{seed}:{student}:{draw}".encode()).digest()
    return np.random.default_rng(
        [int.from_bytes(digest[i : i + 4], "little") for i in (0, 4, 8, 12)]
    )


def hand_friendly(
    rng: np.random.Generator, shape: tuple[int, ...], bounds: tuple[float, float], decimals: int
) -> np.ndarray:
    """Values on the grid 10^-decimals inside ``bounds``, uniform over the grid points."""
    unit = 10.0**-decimals
    low, high = int(np.ceil(bounds[0] / unit - 1e-9)), int(np.floor(bounds[1] / unit + 1e-9))
    if high < low:
        raise ValueError(
            f"the range {bounds[0]:g}:{bounds[1]:g} holds no value with {decimals} decimals"
        )
    return np.round(rng.integers(low, high + 1, size=shape) * unit, decimals)


def draw_spec(
    template: dict[str, Any], student: str, settings: DrawSettings, draw: int = 0
) -> dict[str, Any]:
    """The template (a raw spec mapping) with the kinds in ``settings.vary`` redrawn.

    A pure function of (template, student, settings, draw). Shapes come from the template:
    ``input``/``target`` (one vector or a batch) and each layer's ``W`` (rows = outputs).
    """
    rng = variant_rng(settings.seed, student, draw)
    raw = copy.deepcopy(template)
    d = settings.decimals
    conv = is_conv_spec(raw)
    x = np.asarray(raw["input"], dtype=np.float64)
    x = x if conv else np.atleast_2d(x)
    if "inputs" in settings.vary:
        drawn = hand_friendly(rng, x.shape, settings.range_of("inputs"), d)
        raw["input"] = drawn.tolist() if conv else _examples(drawn)
    outputs = _output_counts(raw) if conv else None
    for number, layer in enumerate(raw["layers"]):
        if not isinstance(layer, dict) or "W" not in layer:
            continue  # pooling and flatten: nothing to draw
        shape = np.asarray(layer["W"]).shape
        rows = shape[0] if outputs is None else outputs[number]
        if "weights" in settings.vary:
            layer["W"] = hand_friendly(rng, shape, settings.range_of("weights"), d).tolist()
        if "biases" in settings.vary:
            layer["b"] = hand_friendly(rng, (rows,), settings.range_of("biases"), d).tolist()
    if "targets" in settings.vary:
        raw["target"] = _examples(_targets(rng, raw, 1 if conv else x.shape[0], settings))
    return raw


def _output_counts(raw: dict[str, Any]) -> list[int]:
    """Each layer's number of biases in a convolutional template (a conv layer's filters,
    read from its kernel as the spec reads it); the template itself must be valid."""
    spec = parse_spec(raw, source="the template")
    return [0 if W is None else int(W.shape[0]) for W in spec.weights()]


def _targets(rng: np.random.Generator, raw: dict[str, Any], m: int, settings: DrawSettings):
    outputs = len(raw["layers"][-1]["W"])
    name = raw["loss"] if isinstance(raw["loss"], str) else raw["loss"].get("name", "")
    loss = LOSSES.canonical(name)  # a bad name fails here, as parse_spec would say
    if loss == "categorical_crossentropy":
        return np.eye(outputs)[rng.integers(0, outputs, size=m)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=(m, outputs)).astype(np.float64)
    return hand_friendly(rng, (m, outputs), settings.range_of("targets"), settings.decimals)


def _examples(values: np.ndarray) -> list:
    """A batch as plain Python floats (YAML- and JSON-friendly), a single example as one
    vector, as specs write it."""
    listed = np.asarray(values, dtype=np.float64).tolist()
    return listed[0] if isinstance(listed[0], list) and len(listed) == 1 else listed


def template_from_flags(
    arch: list[int],
    activations: list[str],
    loss: str | dict[str, Any] = "mse",
    optimizer: str | dict[str, Any] = "gd",
    *,
    learning_rate: float = 0.1,
    update: dict[str, Any] | None = None,
    steps: int = 1,
    fuse: bool = True,
    title: str = "",
) -> dict[str, Any]:
    """A raw spec with the shapes of ``arch`` (input, hidden..., output) and zero values: a
    template whose every number is drawn (``--arch 3-3-2-2 --activations relu,tanh,sigmoid``)."""
    if len(arch) < 2 or any(not isinstance(n, int) or n < 1 for n in arch):
        raise ValueError(f"arch needs an input size and one or more layer sizes >= 1, got {arch}")
    if len(activations) != len(arch) - 1:
        raise ValueError(
            f"activations: {len(arch) - 1} layers need {len(arch) - 1} activations, got "
            f"{len(activations)} ({', '.join(activations)})"
        )
    optimizer_config = {"name": optimizer} if isinstance(optimizer, str) else dict(optimizer)
    optimizer_config.setdefault("learning_rate", learning_rate)
    layers = [
        {"activation": name, "W": [[0.0] * n_in for _ in range(n_out)], "b": [0.0] * n_out}
        for name, n_in, n_out in zip(activations, arch[:-1], arch[1:], strict=True)
    ]
    raw: dict[str, Any] = {
        "input": [0.0] * arch[0],
        "target": [0.0] * arch[-1],
        "layers": layers,
        "loss": loss,
        "optimizer": optimizer_config,
        "steps": steps,
        "fuse": fuse,
    }
    if title:
        raw["title"] = title
    if update:
        raw["update"] = update
    return raw
