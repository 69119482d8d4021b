"""One example's numbers, forward and backward, computed by the engine's own components.

Textbook layout (``z_l = W_l a_{l-1} + b_l``). The activations' values and derivatives come
from the engine's activation layers (``forward``, then ``backward`` of unit vectors), the
loss and its dL/da from its loss class, fused with the output activation as the engine fuses
them: the numbers printed are the engine's numbers.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.record import ExampleState
from chainrule.explain.spec import ExplainSpec
from chainrule.nn.layers import Activation
from chainrule.nn.losses import get_loss


def forward(
    spec: ExplainSpec, W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray], list[Activation]]:
    """z_l and a_l for one example, through the engine's activation layers (kept for backward)."""
    zs, activations, layers = [], [], []
    a = x
    for number, layer_spec in enumerate(spec.layers, start=1):
        z = W[number - 1] @ a + b[number - 1]
        layer = layer_spec.make_activation()
        a = layer.forward(z[None, :], training=True)[0].copy()
        zs.append(z)
        activations.append(a)
        layers.append(layer)
    return zs, activations, layers


def local_derivatives(layer: Activation, n: int) -> np.ndarray:
    """f'(z) from the engine's backward (a vector), or a row-wise activation's Jacobian J[i, j]."""
    if not layer.math.elementwise:
        # backward(e_i) returns row i of the Jacobian: Σ_j e_i[j] J[j, k] = J[i, k].
        return np.array([layer.backward(np.eye(n)[i][None, :])[0] for i in range(n)])
    return layer.backward(np.ones((1, n)))[0].copy()


def example_state(
    spec: ExplainSpec, W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, y: np.ndarray
) -> ExampleState:
    """Every number of one example: z, a, its loss, dL/da, f'(z) and δ for each layer."""
    zs, activations, layers = forward(spec, W, b, x)
    loss = get_loss(spec.loss.engine_config())
    L = spec.n_layers
    fused = loss.fused_with(layers[-1]) if spec.fuse else None
    if fused is not None:
        value = fused.value(zs[-1][None, :], y[None, :])
    else:
        value = loss.value(activations[-1][None, :], y[None, :])
    dL_da: list[np.ndarray | None] = [None] * L
    local: list[np.ndarray | None] = [None] * L
    delta: list[np.ndarray] = [np.empty(0)] * L
    for number in range(L, 0, -1):
        i = number - 1
        if number == L and fused is not None:
            delta[i] = fused.gradient(zs[i][None, :], y[None, :])[0]
            continue
        if number == L:
            dL_da[i] = loss.gradient(activations[i][None, :], y[None, :])[0]
        else:
            dL_da[i] = W[number].T @ delta[number]
        local[i] = local_derivatives(layers[i], len(zs[i]))
        if local[i].ndim == 2:
            delta[i] = local[i].T @ dL_da[i]  # δ[j] = Σ_i dL/da[i] J[i, j]
        else:
            delta[i] = dL_da[i] * local[i]
    return ExampleState(x, y, zs, activations, float(value), dL_da, local, delta)
