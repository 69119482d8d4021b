"""Gradient checking: the hand-written backward against central differences, in float64.

For a parameter θ, the central difference

    (L(θ + h) - L(θ - h)) / 2h  =  dL/dθ + O(h²)

approximates the derivative with an error of order h² (one-sided differences only reach O(h)).
In float64 with h = 1e-6 the truncation error (~1e-12) and the rounding error (~1e-16 / h =
1e-10 relative) are both far below the 1e-6 the checks ask for; in float32 the rounding error
alone would be ~1e-2, which is why checks always run in float64.

The relative error of one tensor is ||analytic - numeric|| / max(||analytic|| + ||numeric||, tiny),
the CS231n convention: about 1e-7 or less means the backward is right.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.nn.layers.base import Layer
from chainrule.nn.model import Sequential


@dataclass(frozen=True)
class GradientCheck:
    """Per-tensor relative errors of one check, and whether all are within ``tolerance``."""

    errors: dict[str, float]
    tolerance: float

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error < self.tolerance

    def __str__(self) -> str:
        lines = [f"{name:<24} relative error {error:.2e}" for name, error in self.errors.items()]
        verdict = "passed" if self.passed else "FAILED"
        lines.append(f"gradient check {verdict}: max {self.max_error:.2e} < {self.tolerance:.0e}")
        return "\n".join(lines)


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||), 0 when both are zero."""
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if scale == 0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / scale)


def numerical_gradient(f: Callable[[], float], array: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to every entry of ``array``.

    ``array`` is perturbed in place (and restored), so ``f`` must read it.
    """
    grad = np.zeros(array.shape, dtype=np.float64)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):  # one entry at a time: this is the reference, not the engine
        original = flat[i]
        flat[i] = original + h
        plus = f()
        flat[i] = original - h
        minus = f()
        flat[i] = original
        flat_grad[i] = (plus - minus) / (2 * h)
    return grad


def gradcheck(
    model: Sequential,
    x: np.ndarray,
    y: Any,
    h: float = 1e-6,
    tolerance: float = 1e-6,
    training: bool = False,
) -> GradientCheck:
    """Compare ``model``'s backward with central differences for every parameter tensor.

    A float32 model is checked on a float64 copy; a float64 model is checked as it is (each
    perturbed entry is restored exactly, but its gradient buffer is overwritten). The loss
    is the full training loss (data term plus L2). With ``training=True`` dropout is active
    and the same masks are replayed for every evaluation (the generator is reset each time).
    Also checks dL/dx, reported as ``"input"``.
    """
    check = model if model.dtype == np.float64 else model.astype(np.float64)
    x = np.array(x, dtype=np.float64)
    rng_state = check.rng.bit_generator.state

    def loss() -> float:
        check.rng.bit_generator.state = rng_state
        return check.compute_loss(check.forward(x, training), y).total

    loss()
    dx = check.backward(y, input_grad=True)
    errors = {}
    for name, param in check.params.items():
        analytic = check.grads[name].copy()
        errors[name] = relative_error(analytic, numerical_gradient(loss, param, h))
    errors["input"] = relative_error(dx, numerical_gradient(loss, x, h))
    return GradientCheck(errors, tolerance)


def gradcheck_layer(
    layer: Layer,
    x: np.ndarray,
    seed: int = 0,
    h: float = 1e-6,
    tolerance: float = 1e-6,
    training: bool = True,
) -> GradientCheck:
    """Check one layer alone, through the scalar L = Σ out ⊙ R with a fixed random R.

    dL/dout = R, so the layer's backward(R) must equal the numeric derivative of L with
    respect to its input and to each of its parameters. ``x`` is the layer's input batch.
    """
    x = np.array(x, dtype=np.float64)
    model = Sequential([layer], input_shape=x.shape[1:], dtype="float64", seed=seed)
    rng_state = model.rng.bit_generator.state
    projection = np.random.default_rng(seed + 1).normal(size=(x.shape[0], *model.output_shape))

    def loss() -> float:
        model.rng.bit_generator.state = rng_state
        # the model, not the layer: a Dense(units, activation=...) runs its activation too
        return float(np.sum(model.forward_batch(x, training) * projection))

    loss()
    dx = model.backward_from(projection)
    errors = {
        name: relative_error(model.grads[name].copy(), numerical_gradient(loss, param, h))
        for name, param in model.params.items()
    }
    errors["input"] = relative_error(dx, numerical_gradient(loss, x, h))
    return GradientCheck(errors, tolerance)
