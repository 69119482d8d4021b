"""Batch normalization for dense (N, F) and convolutional (N, C, H, W) activations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from chainrule.nn.formulas import LayerEquation, LayerMath, add_math_to_docstring, tex_number
from chainrule.nn.init import Constant, Zeros
from chainrule.nn.layers.base import Layer
from chainrule.nn.params import ParameterSpec
from chainrule.utils.validation import check_number


@dataclass(slots=True)
class _TrainingCache:
    """What a training forward leaves for backward: it normalized with the batch's own μ and
    σ², so backward differentiates through them too."""

    mode: ClassVar[str] = "training"
    x_hat: np.ndarray  # x̂ = (x - μ)/s
    inv_std: np.ndarray  # 1/s, broadcast against x


@dataclass(slots=True)
class _InferenceCache:
    """What an inference forward leaves for backward: μ_run and σ²_run are constants here,
    and x̂ is computed only if backward asks for it."""

    mode: ClassVar[str] = "inference"
    x: np.ndarray
    mean: np.ndarray  # μ_run, broadcast against x
    inv_std: np.ndarray  # 1/√(σ²_run + ε), broadcast against x


class BatchNorm(Layer):
    """Batch normalization: standardize each feature over the batch, then scale and shift.

    Statistics are per feature for dense input x (N, F), and per channel for images
    x (N, C, H, W) (over the batch *and* every position, as PyTorch's BatchNorm1d/2d do).
    Below, sums run over the M values of one feature (M = N, or N·H·W); γ, β, μ, σ² have
    one entry per feature (F,) or channel (C,) and broadcast over the rest.

    Forward, training (batch statistics):
        μ  = (1/M) Σ x                 σ² = (1/M) Σ (x - μ)²        (biased, as normalized)
        x̂  = (x - μ) / √(σ² + ε)       y  = γ ⊙ x̂ + β
    Forward, inference (running statistics, fixed numbers):
        y = γ ⊙ (x - μ_run) / √(σ²_run + ε) + β
    Running statistics, updated by every training forward (PyTorch's convention, momentum m
    = 0.1 weighs the *new* batch; Keras's momentum 0.99 is 1 - m), with the unbiased batch
    variance as PyTorch stores it:
        μ_run  ← (1 - m) μ_run  + m μ
        σ²_run ← (1 - m) σ²_run + m σ² · M / (M - 1)
    ε = 1e-5 sits inside the square root, as in PyTorch and Keras.

    Backward, given dout = dy (same shape as x). The parameters enter only through y:
        dβ = Σ dy                      dγ = Σ dy ⊙ x̂                           (F,) / (C,)
    In training x reaches y through x̂ directly and through μ and σ² (which every x of the
    feature shares). With dx̂ = dy ⊙ γ and s = √(σ² + ε):
        dσ² = Σ dx̂ ⊙ (x - μ) · (-1/2) s⁻³
        dμ  = -Σ dx̂ / s  +  dσ² · (-2/M) Σ (x - μ)        (the second sum is 0)
        dx  = dx̂ / s  +  dσ² · 2 (x - μ) / M  +  dμ / M
    and substituting x - μ = s x̂, everything collapses to
        dx  = (γ / s) ⊙ (dy - mean(dy) - x̂ ⊙ mean(dy ⊙ x̂))
    (means over the M values of each feature): the gradient with its mean and its component
    along x̂ removed, since shifting or scaling a feature's inputs does not change x̂.
    In inference μ_run, σ²_run are constants, so dx = dy ⊙ γ / √(σ²_run + ε).

    γ (``gamma``, initialized to 1) and β (``beta``, 0) are parameters, never L2-regularized.
    The running statistics are *state*, not parameters: the optimizer never touches them;
    ``get_state``/``set_state`` read and write them (model files store them).
    """

    type_name = "batch_norm"
    mixes_examples = True
    math = LayerMath(
        name="batch normalization, training mode",
        forward=(
            LayerEquation(
                "{mu}",
                r"(1/M) \sum_{{{over}}} {x}",
                "μ = (1/M) Σ x   one per feature (F,) or channel (C,)",
                shape="mu",
                note="the mean of each {per} over its $M = {M}$ values",
            ),
            LayerEquation(
                "{var}",
                r"(1/M) \sum_{{{over}}} ({x} - {mu})^2",
                "σ² = (1/M) Σ (x - μ)²   (biased, as normalized)",
                shape="var",
                note="biased (divided by $M$), as the normalization uses it",
            ),
            LayerEquation(
                "{xhat}",
                r"({x} - {mu}) \oslash \sqrt{{{var} + \epsilon}}",
                "x̂ = (x - μ) / √(σ² + ε)",
                shape="x",
                note=r"$\epsilon = {eps}$; ${mu}$ and ${var}$ broadcast over {broadcast}",
            ),
            LayerEquation(
                "{out}",
                r"{gamma} \odot {xhat} + {beta}",
                "y = γ ⊙ x̂ + β",
                shape="out",
                note="in inference the running averages stand in for ${mu}$ and ${var}$",
            ),
        ),
        backward=(
            LayerEquation(
                "{dbeta}",
                r"\sum_{{{over}}} {dout}",
                "dβ = Σ dy",
                shape="beta",
                note="one sum per {per}, over {over_text}",
                node="beta",
            ),
            LayerEquation(
                "{dgamma}",
                r"\sum_{{{over}}} {dout} \odot {xhat}",
                "dγ = Σ dy ⊙ x̂",
                shape="gamma",
                note="likewise",
                node="gamma",
            ),
            LayerEquation(
                "{dx}",
                r"({gamma} \oslash \sqrt{{{var} + \epsilon}}) \odot ({dout} - "
                r"\operatorname{{mean}}({dout}) - {xhat} \odot "
                r"\operatorname{{mean}}({dout} \odot {xhat}))",
                "dx = (γ / √(σ² + ε)) ⊙ (dy - mean(dy) - x̂ ⊙ mean(dy ⊙ x̂))",
                shape="x",
                note="means per {per}, over the same $M$ values",
                when="input_grad",
            ),
        ),
        edges={
            "gamma": r"\sum \cdot \odot {xhat}",
            "beta": r"\sum",
            "x": r"({gamma} \oslash \sqrt{{{var} + \epsilon}})(\cdot - "
            r"\operatorname{{mean}} - {xhat}\, \operatorname{{mean}}(\cdot \odot {xhat}))",
        },
        values=lambda layer: _math_values(layer),
        tensors={
            "mu": (r"\mu", "batch mean of each {per}"),
            "var": (r"\sigma^2", "batch variance of each {per}, biased"),
            "xhat": (r"\hat{{{x_letter}}}", "the input, normalized"),
        },
        note="Each input reaches the output directly, through ${xhat}$, and through ${mu}$ and "
        "${var}$, which all $M$ values of its {per} share. Those two paths subtract the "
        "gradient's mean and its component along ${xhat}$: shifting or scaling a {per}'s "
        "inputs leaves ${xhat}$ unchanged. In inference ${mu}$ and ${var}$ are the running "
        r"averages, constants, and ${dx} = {dout} \odot {gamma} \oslash "
        r"\sqrt{{\sigma^2_{{\text{{run}}}} + \epsilon}}$.",
    )

    def __init__(
        self, momentum: float = 0.1, epsilon: float = 1e-5, name: str | None = None
    ) -> None:
        super().__init__(name)
        self.momentum = check_number(
            momentum,
            "momentum (the weight of each new batch in the running statistics, PyTorch's "
            "convention)",
            minimum=0,
            maximum=1,
            where="BatchNorm",
        )
        self.epsilon = check_number(epsilon, "epsilon", minimum=0, strict=True, where="BatchNorm")
        self.gamma: np.ndarray | None = None
        self.beta: np.ndarray | None = None
        self.dgamma: np.ndarray | None = None
        self.dbeta: np.ndarray | None = None
        self.running_mean: np.ndarray | None = None
        self.running_var: np.ndarray | None = None
        self._axes: tuple[int, ...] = (0,)
        #: The last forward's mode and what its backward needs.
        self._cache: _TrainingCache | _InferenceCache | None = None

    # -- shapes and parameters ------------------------------------------------------------
    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) not in (1, 3):
            raise ValueError(
                f"BatchNorm {self.name!r} expects features (F,) or images (channels, height, "
                f"width), got {tuple(input_shape)}"
            )
        return input_shape

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        output_shape = super().build(input_shape, rng)
        self._axes = (0,) if len(self.input_shape) == 1 else (0, 2, 3)
        return output_shape

    @property
    def features(self) -> int:
        """The number of normalized features: F for dense input, C for images."""
        self._check_built()
        return self.input_shape[0]

    def parameter_specs(self) -> dict[str, ParameterSpec]:
        if self.input_shape is None:
            return {}
        count = self.features
        return {
            "gamma": ParameterSpec((count,), Constant(1.0), count, count, regularize=False),
            "beta": ParameterSpec((count,), Zeros(), count, count, regularize=False),
        }

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.gamma, self.dgamma = params["gamma"], grads["gamma"]
        self.beta, self.dbeta = params["beta"], grads["beta"]
        # The running statistics live in the model's dtype, like the parameters.
        dtype = self.gamma.dtype
        self.running_mean = np.zeros(self.features, dtype)
        self.running_var = np.ones(self.features, dtype)

    # -- state that is not a parameter ----------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of the running statistics: ``{"running_mean": (F,), "running_var": (F,)}``."""
        self._check_bound()
        return {"running_mean": self.running_mean.copy(), "running_var": self.running_var.copy()}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Overwrite the running statistics (cast to the model's dtype)."""
        self._check_bound()
        expected = {"running_mean", "running_var"}
        if set(state) != expected:
            raise ValueError(
                f"BatchNorm {self.name!r}: state needs exactly the keys running_mean and "
                f"running_var, got {', '.join(sorted(state)) or 'none'}"
            )
        for key in sorted(expected):
            value = np.asarray(state[key])
            target = getattr(self, key)
            if value.shape != target.shape:
                raise ValueError(
                    f"BatchNorm {self.name!r}: {key} must have shape {target.shape}, got "
                    f"{value.shape}"
                )
            target[...] = value

    def _check_bound(self) -> None:
        if self.running_mean is None:
            raise RuntimeError(
                f"BatchNorm {self.name or self.type_name!r} has no running statistics yet; "
                "add it to a Sequential model first"
            )

    # -- computation ----------------------------------------------------------------------
    def _broadcast(self, vector: np.ndarray) -> np.ndarray:
        """A per-feature vector shaped to broadcast against x: (1, F) or (1, C, 1, 1)."""
        return vector.reshape(1, -1) if len(self._axes) == 1 else vector.reshape(1, -1, 1, 1)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._check_built()
        if x.shape[1:] != self.input_shape:
            raise ValueError(
                f"BatchNorm {self.name!r} expects input of shape (batch, "
                f"{', '.join(map(str, self.input_shape))}), got {x.shape}"
            )
        gamma, beta = self._broadcast(self.gamma), self._broadcast(self.beta)
        if not training:
            inv_std = 1.0 / np.sqrt(self.running_var + self.epsilon)
            mean = self.running_mean
            scale = self.gamma * inv_std  # y = x ⊙ scale + (β - μ_run ⊙ scale)
            y = x * self._broadcast(scale)
            y += self._broadcast(self.beta - mean * scale)
            self._cache = _InferenceCache(x, self._broadcast(mean), self._broadcast(inv_std))
            return y

        count = x.size // self.features  # M values per feature
        if count < 2:
            raise ValueError(
                f"BatchNorm {self.name!r} needs more than one value per feature to compute "
                f"batch statistics in training, got input of shape {x.shape}; use a batch "
                "size above 1"
            )
        mean = np.mean(x, axis=self._axes, keepdims=True)  # μ
        x_hat = x - mean
        variance = np.mean(np.square(x_hat), axis=self._axes, keepdims=True)  # σ² (biased)
        inv_std = 1.0 / np.sqrt(variance + self.epsilon)  # 1/s
        x_hat *= inv_std  # x̂ = (x - μ)/s
        y = x_hat * gamma
        y += beta
        m = self.momentum
        self.running_mean *= 1 - m
        self.running_mean += m * mean.reshape(-1)
        self.running_var *= 1 - m
        self.running_var += (m * count / (count - 1)) * variance.reshape(-1)  # unbiased
        self._cache = _TrainingCache(x_hat, inv_std)
        return y

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        cache = self._cache
        self._check_forward_ran(cache)
        inference = cache.mode == "inference"  # μ_run, σ²_run are constants
        inv_std = cache.inv_std
        x_hat = (cache.x - cache.mean) * inv_std if inference else cache.x_hat
        dy = dout
        np.sum(dy, axis=self._axes, out=self.dbeta)  # dβ = Σ dy
        np.sum(dy * x_hat, axis=self._axes, out=self.dgamma)  # dγ = Σ dy ⊙ x̂
        if not self.needs_input_grad:
            return None
        scale = self._broadcast(self.gamma) * inv_std  # γ / s
        if inference:  # dx = dy ⊙ γ / √(σ²_run + ε)
            return dy * scale
        count = dy.size // self.features
        mean_dy = self._broadcast(self.dbeta) / count  # mean(dy)
        mean_dy_x_hat = self._broadcast(self.dgamma) / count  # mean(dy ⊙ x̂)
        dx = x_hat * mean_dy_x_hat
        np.subtract(dy, dx, out=dx)
        dx -= mean_dy
        dx *= scale  # dx = (γ/s)(dy - mean(dy) - x̂ mean(dy x̂))
        return dx

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


def _math_values(layer: BatchNorm) -> dict[str, Any]:
    """The numbers ``BatchNorm.math`` writes into its equations, read from the built layer."""
    layer._check_built()
    images = len(layer.input_shape) == 3
    height, width = layer.input_shape[1:] if images else (1, 1)
    return {
        "per": "channel" if images else "feature",
        "over": "n,h,w" if images else "n",
        "over_text": "the batch and every position" if images else "the batch",
        "broadcast": "$n, h, w$" if images else "the batch",
        "M": rf"m \cdot {height} \cdot {width}" if images else "m",
        "eps": tex_number(layer.epsilon),
    }


add_math_to_docstring(BatchNorm)
