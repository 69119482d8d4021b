"""Inverted dropout."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.nn.layers.base import Layer
from chainrule.utils.validation import check_number


class Dropout(Layer):
    """Inverted dropout: zero each unit with probability ``rate`` while training.

    Forward (training): draw a mask M with M = 1/(1 - rate) with probability 1 - rate, else 0;
        a = x ⊙ M
    Scaling the kept units by 1/(1 - rate) keeps E[a] = x, so at inference the layer is the
    identity (a = x) and nothing needs rescaling.
    Local derivative: ∂a/∂x = M;  backward: dx = dout ⊙ M (the same mask).

    The mask is drawn from the generator the model passes at build time, so a seeded model
    drops the same units on every run.
    """

    type_name = "dropout"
    draws_in_training = True

    def __init__(self, rate: float = 0.5, name: str | None = None) -> None:
        super().__init__(name)
        self.rate = check_number(
            rate,
            "rate (the probability of dropping a unit)",
            minimum=0,
            maximum=1,
            strict_maximum=True,
            where="dropout",
        )
        self.rng: np.random.Generator | None = None
        self._mask: np.ndarray | None = None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.rng = rng
        return super().build(input_shape, rng)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self.rate
        mask = self.rng.random(x.shape, dtype=np.float64 if x.dtype == np.float64 else np.float32)
        mask = np.where(mask < keep, x.dtype.type(1.0 / keep), x.dtype.type(0.0))
        self._mask = mask
        return x * mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._mask is None:  # inference-mode forward, or rate 0: the identity
            return dout
        return dout * self._mask

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}
