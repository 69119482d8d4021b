"""Weight initializers, all drawing from one explicit ``np.random.Generator``.

An initializer is a small callable ``init(shape, fan_in, fan_out, rng) -> array``. The
variance-scaling ones pick their spread from the layer's fan-in and fan-out so that the
variance of activations (forward) or of deltas (backward) stays about constant layer to layer:

==================  =====================================  ===============================
name                distribution                           why
==================  =====================================  ===============================
zeros, constant     every entry the same value             biases; never all-zero weights
normal(std)         N(0, std²)                             the "random" init of textbooks
uniform(limit)      U(-limit, limit)
glorot_normal       N(0, 2 / (fan_in + fan_out))           Glorot & Bengio 2010; tanh,
glorot_uniform      U(±sqrt(6 / (fan_in + fan_out)))       sigmoid (a.k.a. Xavier)
he_normal           N(0, 2 / fan_in)                       He et al. 2015; ReLU halves
he_uniform          U(±sqrt(6 / fan_in))                   the variance (a.k.a. Kaiming)
lecun_normal        N(0, 1 / fan_in)                       LeCun 1998 "improved weight
lecun_uniform       U(±sqrt(3 / fan_in))                   init", for 1.7159 tanh(2x/3)
==================  =====================================  ===============================

The normal variants draw from the plain (untruncated) normal distribution; Keras truncates at
two standard deviations, PyTorch does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from chainrule.utils.registry import Registry
from chainrule.utils.validation import check_number


@dataclass(frozen=True)
class Initializer:
    """Base class: subclasses implement ``draw`` and are plain, comparable dataclasses."""

    def __call__(
        self, shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> np.ndarray:
        return np.asarray(self.draw(shape, fan_in, fan_out, rng), dtype=np.float64)

    def draw(
        self, shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"name": INITIALIZERS.name_of(type(self)), **asdict(self)}


@dataclass(frozen=True)
class Zeros(Initializer):
    def draw(self, shape, fan_in, fan_out, rng):
        return np.zeros(shape)


@dataclass(frozen=True)
class Constant(Initializer):
    value: float = 0.0

    def draw(self, shape, fan_in, fan_out, rng):
        return np.full(shape, float(self.value))


@dataclass(frozen=True)
class Normal(Initializer):
    std: float = 0.01
    mean: float = 0.0

    def __post_init__(self) -> None:
        check_number(self.std, "std", minimum=0, strict=True, where="initializer 'normal'")

    def draw(self, shape, fan_in, fan_out, rng):
        return rng.normal(self.mean, self.std, size=shape)


@dataclass(frozen=True)
class Uniform(Initializer):
    limit: float = 0.05

    def __post_init__(self) -> None:
        check_number(self.limit, "limit", minimum=0, strict=True, where="initializer 'uniform'")

    def draw(self, shape, fan_in, fan_out, rng):
        return rng.uniform(-self.limit, self.limit, size=shape)


@dataclass(frozen=True)
class VarianceScaling(Initializer):
    """Draw with variance ``scale / fan``, where fan is fan_in, fan_out or their mean."""

    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "normal"

    def draw(self, shape, fan_in, fan_out, rng):
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        limit = math.sqrt(3.0 * variance)  # U(-l, l) has variance l²/3
        return rng.uniform(-limit, limit, size=shape)


@dataclass(frozen=True)
class GlorotNormal(VarianceScaling):
    scale: float = 1.0
    mode: str = "fan_avg"
    distribution: str = "normal"


@dataclass(frozen=True)
class GlorotUniform(VarianceScaling):
    scale: float = 1.0
    mode: str = "fan_avg"
    distribution: str = "uniform"


@dataclass(frozen=True)
class HeNormal(VarianceScaling):
    scale: float = 2.0
    mode: str = "fan_in"
    distribution: str = "normal"


@dataclass(frozen=True)
class HeUniform(VarianceScaling):
    scale: float = 2.0
    mode: str = "fan_in"
    distribution: str = "uniform"


@dataclass(frozen=True)
class LeCunNormal(VarianceScaling):
    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "normal"


@dataclass(frozen=True)
class LeCunUniform(VarianceScaling):
    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "uniform"


INITIALIZERS: Registry[Callable[..., Initializer]] = Registry("initializer")
INITIALIZERS.register("zeros", Zeros)
INITIALIZERS.register("constant", Constant)
INITIALIZERS.register("normal", Normal, aliases=("random_normal", "random"))
INITIALIZERS.register("uniform", Uniform, aliases=("random_uniform",))
INITIALIZERS.register("glorot_normal", GlorotNormal, aliases=("xavier_normal",))
INITIALIZERS.register("glorot_uniform", GlorotUniform, aliases=("xavier_uniform", "xavier"))
INITIALIZERS.register("he_normal", HeNormal, aliases=("kaiming_normal", "he"))
INITIALIZERS.register("he_uniform", HeUniform, aliases=("kaiming_uniform",))
INITIALIZERS.register("lecun_normal", LeCunNormal, aliases=("lecun",))
INITIALIZERS.register("lecun_uniform", LeCunUniform)


def get_initializer(spec: str | dict[str, Any] | Initializer) -> Initializer:
    """Resolve ``"he_normal"``, ``{"name": "normal", "std": 0.1}`` or an instance."""
    if isinstance(spec, Initializer):
        return spec
    return INITIALIZERS.create(spec)
