"""Fully connected layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.nn.init import Initializer, get_initializer
from chainrule.nn.layers.activations import Activation
from chainrule.nn.layers.base import Layer
from chainrule.nn.layers.names import get_activation
from chainrule.nn.params import ParameterSpec
from chainrule.utils.validation import check_integer, is_integer


class Dense(Layer):
    """Fully connected layer: z = x @ W + b.

    Shapes: x (m, n_in), W (n_in, n_out), b (n_out,), z (m, n_out); batches are rows.

    Forward, for one example i and output unit j:
        z[i, j] = Σ_k x[i, k] W[k, j] + b[j]
    Local derivatives: ∂z[i, j]/∂W[k, j] = x[i, k],  ∂z[i, j]/∂b[j] = 1,  ∂z[i, j]/∂x[i, k] = W[k, j].
    Backward, given dout = δ = dL/dz (m, n_out), summing over the batch by the chain rule:
        dW = x.T @ δ            (n_in, n_out)
        db = δ.sum(axis=0)      (n_out,)
        dx = δ @ W.T            (m, n_in)   -> becomes the previous layer's dout

    The textbook layout writes z = W x + b with W (n_out, n_in); this W is its transpose.

    Keras spellings: ``Dense(128, activation="relu")`` is this layer followed by its own
    activation layer: ``Sequential.add`` (and the ``Sequential`` constructor) put the ReLU
    layer right after the Dense one, so a = f(z) stays a separate step with its own δ, and the
    summary lists both. The Dense layer itself computes only z. ``input_shape=(784,)`` is
    ``input_dim=784``.
    """

    type_name = "dense"

    def __init__(
        self,
        units: int,
        *,
        use_bias: bool = True,
        kernel_initializer: str | dict[str, Any] | Initializer = "glorot_uniform",
        bias_initializer: str | dict[str, Any] | Initializer = "zeros",
        input_dim: int | None = None,
        activation: str | dict[str, Any] | Activation | None = None,
        input_shape: Sequence[int] | int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.units = check_integer(units, "units", where="Dense")
        if input_shape is not None:
            input_dim = _input_dim_from_shape(input_shape, input_dim)
        if input_dim is not None:
            input_dim = check_integer(input_dim, "input_dim", where="Dense")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self.input_dim = input_dim
        #: The activation layer that follows this one in a Sequential (None: none).
        self.activation = _resolve_activation(activation)
        self.W: np.ndarray | None = None
        self.b: np.ndarray | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None
        self._x: np.ndarray | None = None

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ValueError(
                f"Dense {self.name!r} expects flat input (features,), got shape "
                f"{input_shape}; put a Flatten layer before it"
            )
        if self.input_dim is not None and self.input_dim != input_shape[0]:
            raise ValueError(
                f"Dense {self.name!r} was declared with input_dim={self.input_dim} but the "
                f"layer before it gives {input_shape[0]} features"
            )
        return (self.units,)

    def multiply_adds(self) -> int:
        self._check_built()
        return self.input_shape[0] * self.units

    @property
    def fan_in(self) -> int:
        self._check_built()
        return self.input_shape[0]

    def parameter_specs(self) -> dict[str, ParameterSpec]:
        if self.input_shape is None and self.input_dim is None:
            return {}
        fan_in = self.input_shape[0] if self.input_shape is not None else self.input_dim
        specs = {
            "W": ParameterSpec((fan_in, self.units), self.kernel_initializer, fan_in, self.units)
        }
        if self.use_bias:
            specs["b"] = ParameterSpec(
                (self.units,), self.bias_initializer, fan_in, self.units, regularize=False
            )
        return specs

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.W, self.dW = params["W"], grads["W"]
        if self.use_bias:
            self.b, self.db = params["b"], grads["b"]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._check_built()
        if x.ndim != 2 or x.shape[1] != self.W.shape[0]:
            raise ValueError(
                f"Dense {self.name!r} expects input of shape (batch, {self.W.shape[0]}), "
                f"got {x.shape}"
            )
        self._x = x
        z = x @ self.W
        if self.use_bias:
            z += self.b
        return z

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        self._check_forward_ran(self._x)
        delta = dout
        np.matmul(self._x.T, delta, out=self.dW)
        if self.use_bias:
            np.sum(delta, axis=0, out=self.db)
        if not self.needs_input_grad:
            return None
        return delta @ self.W.T

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer.get_config(),
            "bias_initializer": self.bias_initializer.get_config(),
        }

    def __repr__(self) -> str:
        # the model file keeps the activation as its own layer, but the user wrote it here
        text = super().__repr__()
        if self.activation is None:
            return text
        return f"{text[:-1]}, activation={self.activation.get_config()['type']!r})"


def _input_dim_from_shape(input_shape: Any, input_dim: int | None) -> int:
    """``input_shape=(784,)`` (Keras) as ``input_dim=784``; a Dense layer takes flat input."""
    shape = (input_shape,) if isinstance(input_shape, int | np.integer) else input_shape
    flat = isinstance(shape, Sequence) and len(shape) == 1
    if not flat or not is_integer(shape[0]):
        raise ValueError(
            f"Dense: input_shape must be (features,) for a Dense layer, got {input_shape!r}; "
            "for images put a Flatten layer first (Sequential(input_shape=(28, 28)) with "
            "Flatten() as its first layer)"
        )
    if input_dim is not None and input_dim != shape[0]:
        raise ValueError(
            f"Dense: input_shape={tuple(shape)!r} and input_dim={input_dim!r} disagree; give one"
        )
    return int(shape[0])


def _resolve_activation(spec: str | dict[str, Any] | Activation | None) -> Activation | None:
    if spec is None or isinstance(spec, Activation):
        return spec
    return get_activation(spec)
