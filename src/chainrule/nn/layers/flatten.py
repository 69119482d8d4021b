"""Flatten: images to feature vectors."""

from __future__ import annotations

import math

import numpy as np

from chainrule.nn.formulas import LayerEquation, LayerMath, add_math_to_docstring
from chainrule.nn.layers.base import Layer


class Flatten(Layer):
    """Reshape (m, d1, d2, …) to (m, d1·d2·…); no parameters, no arithmetic.

    Forward: a = x.reshape(m, -1). Backward: dx = dout.reshape(x.shape): reshaping moves no
    values, so every local derivative is 1 and the gradient is the same numbers re-shaped.
    """

    type_name = "flatten"
    math = LayerMath(
        name="flatten",
        forward=(
            LayerEquation(
                "{out}",
                r"\operatorname{{reshape}}({x})",
                "a = x.reshape(m, -1)",
                shape="out",
                note="from ${before}$; moves no values",
            ),
        ),
        backward=(
            LayerEquation(
                "{dx}",
                r"\operatorname{{reshape}}({dout})",
                "dx = dout.reshape(x.shape): every local derivative is 1",
                shape="x",
                note="back to ${before}$: every local derivative is 1",
                when="input_grad",
            ),
        ),
        edges={"x": r"\operatorname{{reshape}}"},
        values=lambda layer: {"before": r" \times ".join(["m", *map(str, layer.input_shape)])},
    )

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


add_math_to_docstring(Flatten)
