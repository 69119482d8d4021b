"""Built-in 2-D datasets, seeded: XOR, two moons, circles, spirals and Gaussian blobs.

The classic first experiments (what TensorFlow Playground made famous): points in the plane,
two or more classes, and a boundary a linear model cannot draw. Each set is one small function
of ``n`` (points in all), ``noise`` (the standard deviation of Gaussian noise added to every
coordinate; for blobs, the spread of each blob) and a ``seed``, plus a few settings of its
own; ``toy_dataset`` is the one entry point and ``TOY_DATASETS`` lists every set with its
settings, their defaults and their bounds::

    >>> x, y = toy_dataset("moons", n=200, noise=0.1, seed=0)
    >>> x.shape, x.dtype, y.shape, y.dtype
    ((200, 2), dtype('float32'), (200,), dtype('int64'))

Every set lives in roughly [-1.5, 1.5]² and its classes are balanced: ``n`` points are dealt
out to the classes as evenly as they divide (the first classes get one more), then shuffled,
so the labels are not grouped. The same arguments always give the same arrays, on any machine
(one ``np.random.Generator`` from the seed, drawn in a fixed order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.utils.validation import check_integer, check_number

__all__ = [
    "MAX_POINTS",
    "TOY_DATASETS",
    "ToyDataset",
    "ToyParam",
    "get_toy",
    "toy_class_names",
    "toy_dataset",
]

MAX_POINTS = 1_000_000  # a bound on n: a typo of extra zeros fails at once, not after minutes


@dataclass(frozen=True)
class ToyParam:
    """One setting of a toy dataset: its name, kind ("int" or "float"), default and bounds."""

    name: str
    kind: str
    default: int | float
    minimum: int | float | None
    maximum: int | float | None
    help: str

    def check(self, value: object, where: str) -> int | float:
        """``value`` as this setting's type, or a ``ValueError`` naming it and its bounds."""
        if self.kind == "int":
            return check_integer(value, self.name, self.minimum, self.maximum, where=where)  # type: ignore[arg-type]
        return check_number(value, self.name, self.minimum, self.maximum, where=where)

    def describe(self) -> str:
        """``noise: float >= 0, default 0.1 — ...`` for help texts and error messages."""
        if self.minimum is not None and self.maximum is not None:
            bounds = f" in [{self.minimum}, {self.maximum}]"
        elif self.minimum is not None:
            bounds = f" >= {self.minimum}"
        else:
            bounds = ""
        return f"{self.name}: {self.kind}{bounds}, default {self.default} — {self.help}"


def _common(n: int, noise: float) -> tuple[ToyParam, ToyParam]:
    return (
        ToyParam("n", "int", n, 4, MAX_POINTS, "number of points, all classes together"),
        ToyParam("noise", "float", noise, 0.0, None, "std of Gaussian noise on each coordinate"),
    )


@dataclass(frozen=True)
class ToyDataset:
    """A built-in 2-D dataset: its name, what it is, its settings and its generator."""

    name: str
    description: str
    params: tuple[ToyParam, ...]
    generate: Callable[..., tuple[np.ndarray, np.ndarray]]
    classes: Callable[[Mapping[str, Any]], int]

    @property
    def defaults(self) -> dict[str, int | float]:
        """Every setting's default (``n`` and ``noise`` included, ``seed`` not)."""
        return {param.name: param.default for param in self.params}

    def param(self, name: str) -> ToyParam:
        for param in self.params:
            if param.name == name:
                return param
        raise ValueError(
            f"toy dataset {self.name!r} has no setting {name!r}; its settings: "
            f"{', '.join(p.name for p in self.params)}, seed"
        )

    def resolve(self, settings: Mapping[str, Any]) -> dict[str, int | float]:
        """The defaults overridden by ``settings``, each checked; an unknown name is an error."""
        where = f"toy dataset {self.name!r}"
        resolved = self.defaults
        for name, value in settings.items():
            resolved[name] = self.param(name).check(value, where)
        minimum = 2 * self.classes(resolved)
        if resolved["n"] < minimum:
            raise ValueError(
                f"{where}: n must be at least {minimum} (two points per class), got {resolved['n']}"
            )
        return resolved


def _class_sizes(n: int, k: int) -> np.ndarray:
    """``n`` points dealt to ``k`` classes as evenly as they divide."""
    sizes = np.full(k, n // k, dtype=np.int64)
    sizes[: n % k] += 1
    return sizes


def _finish(
    rng: np.random.Generator, parts: list[np.ndarray], noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Stack the classes' clean points, add the noise, shuffle; float32 x and int64 y."""
    x = np.concatenate(parts)
    y = np.concatenate(
        [np.full(len(part), label, dtype=np.int64) for label, part in enumerate(parts)]
    )
    # Drawn even when noise is 0, so that the same seed gives the same clean points in the same
    # order at every noise level: only the noise changes (a slider moves points, not reshuffles).
    x = x + rng.normal(0.0, noise, size=x.shape)
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order]


def _xor(
    rng: np.random.Generator, n: int, noise: float, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform in [-1, 1]², at least ``margin`` from both axes; class 1 where sign(x1·x2) < 0.

    The margin keeps a clean gap along the axes (TensorFlow Playground pads the same way), so
    with little noise a good boundary is exact.
    """
    parts = []
    for label, size in enumerate(_class_sizes(n, 2)):
        magnitude = rng.uniform(margin, 1.0, size=(size, 2))
        sign1 = rng.choice([-1.0, 1.0], size=size)
        # Class 0: same signs (quadrants I and III); class 1: opposite signs (II and IV).
        sign2 = sign1 if label == 0 else -sign1
        parts.append(magnitude * np.stack([sign1, sign2], axis=1))
    return _finish(rng, parts, noise)


def _moons(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles of radius 1 (scikit-learn's ``make_moons``), centred."""
    upper, lower = _class_sizes(n, 2)
    t_upper = rng.uniform(0.0, np.pi, size=upper)
    t_lower = rng.uniform(0.0, np.pi, size=lower)
    centre = np.array([0.5, 0.25])
    parts = [
        np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1) - centre,
        np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1) - centre,
    ]
    return _finish(rng, parts, noise)


def _circles(
    rng: np.random.Generator, n: int, noise: float, factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Class 0 on the circle of radius 1, class 1 on the circle of radius ``factor`` inside it."""
    parts = []
    for radius, size in zip((1.0, factor), _class_sizes(n, 2), strict=True):
        angle = rng.uniform(0.0, 2.0 * np.pi, size=size)
        parts.append(radius * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    return _finish(rng, parts, noise)


def _spirals(
    rng: np.random.Generator, n: int, noise: float, classes: int, turns: float
) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` arms winding ``turns`` times out from the centre, arm k turned by 2πk/classes.

    A point at fraction t in [0, 1] along its arm sits at radius t and angle 2π·turns·t; t is
    drawn as sqrt(uniform) so the points are spread evenly along the arm's length, not bunched
    at the centre where the arm is short. Neighbouring passes of the arms are 1/(turns·classes)
    apart, which is what the noise competes with.
    """
    parts = []
    for arm, size in enumerate(_class_sizes(n, classes)):
        t = np.sqrt(rng.uniform(0.0, 1.0, size=size)) * 0.95 + 0.05
        angle = 2.0 * np.pi * (turns * t + arm / classes)
        parts.append(t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    return _finish(rng, parts, noise)


def _blobs(
    rng: np.random.Generator, n: int, noise: float, centers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs of std ``noise`` around ``centers`` points evenly spaced on the unit circle."""
    parts = []
    for k, size in enumerate(_class_sizes(n, centers)):
        angle = 2.0 * np.pi * k / centers + np.pi / 4
        parts.append(np.tile([np.cos(angle), np.sin(angle)], (size, 1)))
    return _finish(rng, parts, noise)


TOY_DATASETS: dict[str, ToyDataset] = {
    toy.name: toy
    for toy in (
        ToyDataset(
            "xor",
            "four quadrants, opposite corners alike: the problem a single neuron cannot solve",
            (
                *_common(400, 0.05),
                ToyParam("margin", "float", 0.1, 0.0, 0.9, "empty gap along each axis"),
            ),
            _xor,
            lambda _settings: 2,
        ),
        ToyDataset(
            "moons",
            "two interleaved half circles",
            _common(400, 0.1),
            _moons,
            lambda _settings: 2,
        ),
        ToyDataset(
            "circles",
            "a ring around a disc: class 1 inside class 0",
            (
                *_common(400, 0.05),
                ToyParam("factor", "float", 0.5, 0.0, 0.99, "inner radius / outer radius"),
            ),
            _circles,
            lambda _settings: 2,
        ),
        ToyDataset(
            "spirals",
            "interleaved spiral arms, one class each",
            (
                *_common(600, 0.03),
                ToyParam("classes", "int", 2, 2, 10, "number of arms (= classes)"),
                ToyParam("turns", "float", 1.25, 0.1, 5.0, "turns of each arm"),
            ),
            _spirals,
            lambda settings: int(settings["classes"]),
        ),
        ToyDataset(
            "blobs",
            "Gaussian blobs, one class each, around points on the unit circle",
            (
                *_common(400, 0.3),
                ToyParam("centers", "int", 3, 2, 10, "number of blobs (= classes)"),
            ),
            _blobs,
            lambda settings: int(settings["centers"]),
        ),
    )
}


def get_toy(name: str) -> ToyDataset:
    """The ``ToyDataset`` called ``name`` (case-insensitive), or an error listing them all."""
    if not isinstance(name, str):
        raise TypeError(f"toy dataset name must be a string, got {name!r}")
    key = name.strip().lower()
    if key not in TOY_DATASETS:
        raise ValueError(
            f"unknown toy dataset {name!r}; built-in 2-D datasets: {', '.join(TOY_DATASETS)}"
        )
    return TOY_DATASETS[key]


def toy_dataset(name: str, *, seed: int = 0, **settings: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points ``x`` float32 (n, 2) and labels ``y`` int64 (n,) of the built-in set ``name``.

    ``settings`` are ``n``, ``noise`` and the set's own (``TOY_DATASETS[name].params``); each
    missing one takes its default. An unknown name or setting, or a value out of bounds, is a
    ``ValueError`` that names it and what is valid.
    """
    toy = get_toy(name)
    seed = check_integer(seed, "seed", minimum=0, where=f"toy dataset {toy.name!r}")
    resolved = toy.resolve(settings)
    return toy.generate(np.random.default_rng(seed), **resolved)


def toy_class_names(name: str, **settings: Any) -> tuple[str, ...]:
    """The class names of a toy set: "0", "1", ... (as many as its settings give classes)."""
    toy = get_toy(name)
    return tuple(str(k) for k in range(toy.classes(toy.resolve(settings))))
