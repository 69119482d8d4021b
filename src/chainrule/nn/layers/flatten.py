"""Flatten: images to feature vectors."""

from __future__ import annotations

import math

import numpy as np

from chainrule.nn.layers.base import Layer


class Flatten(Layer):
    """Reshape (m, d1, d2, …) to (m, d1·d2·…); no parameters, no arithmetic.

    Forward: a = x.reshape(m, -1). Backward: dx = dout.reshape(x.shape): reshaping moves no
    values, so every local derivative is 1 and the gradient is the same numbers re-shaped.
    """

    type_name = "flatten"

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(input_shape),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._check_built()
        if x.shape[1:] != self.input_shape:
            raise ValueError(
                f"Flatten {self.name!r} expects input of shape (batch, "
                f"{', '.join(map(str, self.input_shape))}), got {x.shape}"
            )
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape((dout.shape[0], *self.input_shape))
