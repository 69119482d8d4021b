"""Convolutional networks for the tests of derive and graph: one with every layer kind they
cover, one with a layer defined outside chainrule."""

from __future__ import annotations

import numpy as np

from chainrule.nn.formulas import LayerEquation, LayerMath
from chainrule.nn.init import Constant
from chainrule.nn.layers import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    ReLU,
    Softmax,
    Tanh,
)
from chainrule.nn.model import Sequential
from chainrule.nn.params import ParameterSpec


def every_layer_kind() -> Sequential:
    """Stride 2 with padding, BatchNorm, average pooling, a convolution without bias, max
    pooling with overlapping windows (stride 1), flatten, dropout, a dense softmax, L2."""
    return Sequential(
        [
            Conv2D(4, 3, stride=2, padding=1),
            BatchNorm(),
            ReLU(),
            AvgPool2D(2),
            Conv2D(3, 2, use_bias=False),
            Tanh(),
            MaxPool2D(2, stride=1),
            Flatten(),
            Dropout(0.2),
            Dense(3),
            Softmax(),
        ],
        loss="categorical_crossentropy",
        input_shape=(2, 12, 12),
        l2=0.01,
    )


class ChannelScale(Layer):
    """A layer chainrule does not have, defined the way a user would add one: y = γ ⊙ x with one
    scale per channel, dγ = Σ_{n,h,w} dy ⊙ x, dx = γ ⊙ dy; its ``math`` is all that derive and
    graph need to show it."""

    type_name = "channel_scale"
    math = LayerMath(
        name="channel scaling",
        forward=(
            LayerEquation(
                "{out}", r"{gamma} \odot {x}", "y = γ ⊙ x", shape="out", note="one scale a channel"
            ),
        ),
        backward=(
            LayerEquation(
                "{dgamma}",
                r"\sum_{{n,h,w}} {dout} \odot {x}",
                "dγ = Σ dy ⊙ x",
                shape="gamma",
                node="gamma",
            ),
            LayerEquation(
                "{dx}", r"{gamma} \odot {dout}", "dx = γ ⊙ dy", shape="x", when="input_grad"
            ),
        ),
        edges={"gamma": r"\sum \cdot \odot {x}", "x": r"{gamma} \odot \cdot"},
        values=lambda layer: {},
        tensors={"gamma": (r"\gamma", "one scale a channel"), "out": ("S", "the scaled maps")},
    )

    def parameter_specs(self) -> dict[str, ParameterSpec]:
        if self.input_shape is None:
            return {}
        channels = self.input_shape[0]
        return {"gamma": ParameterSpec((channels,), Constant(1.0), channels, channels, False)}

    def bind(self, params, grads) -> None:
        self.gamma, self.dgamma = params["gamma"], grads["gamma"]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x
        return x * self.gamma.reshape(1, -1, 1, 1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        np.sum(dout * self._x, axis=(0, 2, 3), out=self.dgamma)
        return dout * self.gamma.reshape(1, -1, 1, 1)


def with_a_new_layer() -> Sequential:
    return Sequential(
        [Conv2D(2, 3), ChannelScale(), ReLU(), Flatten(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(1, 6, 6),
    )
