"""A convolutional spec's numbers, forward and backward, computed by the engine's own layers.

The spec's network is the engine's float64 ``Sequential`` (``ConvSpec.to_model``); this module
runs its layers one at a time so that every intermediate value can be kept: each layer's
``forward(training=True)``, the loss (fused with the output activation as the engine fuses
them), then each layer's ``backward``, top down. The convolution's z, dW and dL/dx, the
pooling's values, its routing of δ, and the dense layers' numbers are all the engine's;
``conv_steps`` only writes out their arithmetic.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.numbers import local_derivatives
from chainrule.explain.record import ConvExampleState
from chainrule.explain.spec import ConvSpec
from chainrule.nn.layers import Layer, MaxPool2D
from chainrule.nn.losses import get_loss


def engine_stack(spec: ConvSpec, model) -> list[tuple[Layer, Layer | None]]:
    """(main layer, its activation or None) per spec layer, from the model's layer list."""
    stack, position = [], 0
    for number in range(1, spec.n_layers + 1):
        main = model.layers[position]
        position += 1
        activation = None
        if spec.has_parameters(number):
            activation = model.layers[position]
            position += 1
        stack.append((main, activation))
    return stack


def conv_example_state(
    spec: ConvSpec, W: list[np.ndarray | None], b: list[np.ndarray | None]
) -> tuple[ConvExampleState, dict[str, np.ndarray]]:
    """Every number of the image at these parameters, and the engine's gradients by name
    (``{"W1": dL/dW1 (O, C, kh, kw), "b1": ..., "W4": textbook (n_out, n_in), ...}``)."""
    model = spec.to_model(W, b)
    model.layers[0].needs_input_grad = True  # dL/dx is shown, though no update needs it
    stack = engine_stack(spec, model)
    x, y = spec.x(), spec.y()
    L = spec.n_layers
    zs: list[np.ndarray | None] = [None] * L
    activations: list[np.ndarray] = [np.empty(0)] * L
    a = x
    for number, (main, activation) in enumerate(stack, start=1):
        out = main.forward(a, training=True)
        if activation is not None:
            zs[number - 1] = out[0].copy()
            out = activation.forward(out, training=True)
        a = out
        activations[number - 1] = a[0].copy()
    loss = get_loss(spec.loss.engine_config())
    output = stack[-1][1]
    fused = loss.fused_with(output) if spec.fuse else None
    z_L = zs[-1][None, :]
    output_value = activations[-1][None, :]
    value = fused.value(z_L, y) if fused is not None else loss.value(output_value, y)
    dL_da: list[np.ndarray | None] = [None] * L
    local: list[np.ndarray | None] = [None] * L
    delta: list[np.ndarray] = [np.empty(0)] * L
    grads: dict[str, np.ndarray] = {}
    routes: dict[int, np.ndarray] = {}
    gradient = None  # dL/da_number, from the layer above
    for number in range(L, 0, -1):
        i = number - 1
        main, activation = stack[i]
        if number == L and fused is not None:
            delta[i] = fused.gradient(z_L, y)[0]
            down = delta[i][None, :]
        else:
            if number == L:
                gradient = loss.gradient(activations[i][None, :], y)
            dL_da[i] = gradient[0].copy()
            if activation is not None:
                delta[i] = activation.backward(gradient)[0].copy()
                local[i] = _local(activation, zs[i])
                down = delta[i][None]
            else:
                delta[i] = dL_da[i]
                down = gradient
        if isinstance(main, MaxPool2D):
            routes[number] = _routes(main)
        gradient = main.backward(down)
        if spec.has_parameters(number):
            key = spec.engine_name(number)
            dW = model.grads[f"{key}.W"]
            grads[f"W{number}"] = dW.copy() if dW.ndim == 4 else dW.T.copy()
            grads[f"b{number}"] = model.grads[f"{key}.b"].copy()
    state = ConvExampleState(
        x[0].copy(),
        y[0].copy(),
        zs,
        activations,
        float(value),
        dL_da,
        local,
        delta,
        dL_dx=gradient[0].copy(),
        routes=routes,
    )
    return state, grads


def _local(activation: Layer, z: np.ndarray) -> np.ndarray:
    """f'(z) of an element-wise activation on any shape, or a softmax's Jacobian."""
    if z.ndim == 1:
        return local_derivatives(activation, len(z))
    return activation.backward(np.ones((1, *z.shape)))[0].copy()


def _routes(pool: MaxPool2D) -> np.ndarray:
    """Where each window's maximum sits, read from the engine's own backward: a unit
    gradient at output (c, i, j) comes back at exactly one input position."""
    channels, height, width = pool.output_shape
    result = np.zeros((channels, height, width, 2), dtype=int)
    for c, i, j in np.ndindex(channels, height, width):
        unit = np.zeros((1, channels, height, width))
        unit[0, c, i, j] = 1.0
        back = pool.backward(unit)[0, c]
        row, column = np.unravel_index(int(np.argmax(back)), back.shape)
        result[c, i, j] = (row, column)
    return result
