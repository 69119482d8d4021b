"""Losses: each gives its value and its gradient dL/d(output); two are fused with their
output activation and work from the logits.

Notation: a is the network's output (m examples × k outputs), y the target, z the logits
(the input of the output activation), m the batch size. Every loss is averaged over the batch,
so a learning rate means the same thing for any batch size.

==========================  =========================================  =======================
loss                        value                                      gradient
==========================  =========================================  =======================
mse, reduction="mean"       Σ (a - y)² / (m k)                         dL/da = 2 (a - y) / (m k)
mse, reduction="sum"        Σ (a - y)² / m   (summed over outputs)     dL/da = 2 (a - y) / m
mse, reduction="half_sum"   ½ Σ (a - y)² / m (Nielsen's quadratic)     dL/da = (a - y) / m
binary_crossentropy         -Σ [y log a + (1-y) log(1-a)] / (m k)      dL/da = (a - y) / (a (1-a) m k)
  fused with sigmoid        from logits, see below                     dL/dz = (σ(z) - y) / (m k)
categorical_crossentropy    -Σ y log a / m                             dL/da = -y / (a m)
  fused with softmax        logsumexp(z) - z_y, averaged               dL/dz = (softmax(z) - y) / m
==========================  =========================================  =======================

Why fuse: for softmax + cross-entropy, the softmax Jacobian and -y/a cancel to a - y, which is
both cheaper and exact where a → 0 (the unfused form divides by a tiny probability). The value
from logits uses log-sum-exp: logits of ±1e4 give finite values and gradients.

Clipping, stated: on probabilities, log terms are clamped at -100 and divisors at 1e-12, as
PyTorch's ``BCELoss`` does, so a probability of exactly 0 or 1 gives a large finite loss.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from chainrule.nn.labels import check_labels, one_hot
from chainrule.nn.layers.activations import Sigmoid, Softmax, log_softmax, sigmoid, softmax
from chainrule.nn.layers.base import Layer
from chainrule.utils.registry import Registry

LOG_FLOOR = -100.0
DIVISOR_FLOOR = 1e-12


class Loss:
    """Base class: ``value`` and ``gradient`` take the output and a target of any accepted form."""

    type_name: ClassVar[str] = "loss"
    from_logits: bool = False

    def prepare_target(self, target: Any, output: np.ndarray) -> np.ndarray:
        """Check ``target`` against ``output`` and return it in this loss's working form."""
        raise NotImplementedError

    def value(self, output: np.ndarray, target: Any) -> float:
        raise NotImplementedError

    def gradient(self, output: np.ndarray, target: Any) -> np.ndarray:
        raise NotImplementedError

    def fused_with(self, layer: Layer) -> Loss | None:
        """The from-logits form of this loss when ``layer`` is its partner activation."""
        return None

    def gradient_from_activation(self, a: np.ndarray, target: Any) -> np.ndarray:
        """For a from-logits loss: dL/dz given the partner activation's output a = f(z)."""
        raise NotImplementedError(f"{self.type_name} is not fused with an activation")

    def value_from_activation(self, a: np.ndarray, logits: np.ndarray, target: Any) -> float:
        """For a from-logits loss: the value, given both a = f(z) and the logits z."""
        return self.value(logits, target)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.type_name}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({arguments})"


class MeanSquaredError(Loss):
    """Squared error in one of the three textbook conventions (see the module table).

    ``mean`` averages over outputs and batch (PyTorch's and Keras' MSELoss); ``sum`` sums over
    the outputs of one example; ``half_sum`` is ½ of that, the convention that makes the
    gradient exactly a - y. The last two are averaged over the batch.
    """

    type_name = "mse"
    REDUCTIONS = ("mean", "sum", "half_sum")

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in self.REDUCTIONS:
            raise ValueError(
                f"mse: reduction must be one of {', '.join(self.REDUCTIONS)}, got {reduction!r}"
            )
        self.reduction = reduction

    def prepare_target(self, target: Any, output: np.ndarray) -> np.ndarray:
        return _dense_target(target, output, self.type_name, allow_labels=True)

    def _scale(self, output: np.ndarray) -> float:
        m, k = output.shape[0], _outputs_per_example(output)
        return {"mean": 1.0 / (m * k), "sum": 1.0 / m, "half_sum": 0.5 / m}[self.reduction]

    def value(self, output: np.ndarray, target: Any) -> float:
        y = self.prepare_target(target, output)
        error = output - y
        return float(self._scale(output) * np.sum(error * error))

    def gradient(self, output: np.ndarray, target: Any) -> np.ndarray:
        y = self.prepare_target(target, output)
        return (2.0 * self._scale(output)) * (output - y)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.type_name, "reduction": self.reduction}


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy, averaged over every output of every example (m k terms).

    On probabilities a:  L = -Σ [y log a + (1 - y) log(1 - a)] / (m k)
                         dL/da = (a - y) / (a (1 - a)) / (m k)
    From logits z (``from_logits=True``, or fused with a final Sigmoid layer):
        L = Σ [max(z, 0) - z y + log(1 + e^(-|z|))] / (m k)   (no overflow for any z)
        dL/dz = (σ(z) - y) / (m k)     since dL/da · σ'(z) = (a - y)/(a(1-a)) · a(1-a)
    Targets: 0/1 (or soft targets in [0, 1]) shaped like the output; for one output unit a
    vector of m labels also works.
    """

    type_name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = bool(from_logits)

    def prepare_target(self, target: Any, output: np.ndarray) -> np.ndarray:
        y = _dense_target(target, output, self.type_name, allow_labels=False)
        if y.size and (np.min(y) < 0 or np.max(y) > 1):
            raise ValueError(
                f"{self.type_name}: targets must lie in [0, 1], got values from "
                f"{np.min(y):g} to {np.max(y):g}"
            )
        return y

    def value(self, output: np.ndarray, target: Any) -> float:
        y = self.prepare_target(target, output)
        if self.from_logits:
            z = output
            terms = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
            return float(np.mean(terms))
        with np.errstate(divide="ignore"):
            log_a = np.maximum(np.log(output), LOG_FLOOR)
            log_1ma = np.maximum(np.log(1 - output), LOG_FLOOR)
        return float(-np.mean(y * log_a + (1 - y) * log_1ma))

    def gradient(self, output: np.ndarray, target: Any) -> np.ndarray:
        if self.from_logits:
            return self.gradient_from_activation(sigmoid(output), target)
        y = self.prepare_target(target, output)
        n = output.size
        divisor = np.maximum(output * (1 - output), DIVISOR_FLOOR)
        return (output - y) / divisor / n

    def gradient_from_activation(self, a: np.ndarray, target: Any) -> np.ndarray:
        """dL/dz = (a - y)/(m k) given a = σ(z), already computed by the output layer."""
        y = self.prepare_target(target, a)
        delta = a - y
        delta /= a.size
        return delta

    def fused_with(self, layer: Layer) -> Loss | None:
        if not self.from_logits and isinstance(layer, Sigmoid):
            return BinaryCrossEntropy(from_logits=True)
        return None

    def get_config(self) -> dict[str, Any]:
        return {"name": self.type_name, "from_logits": self.from_logits}


class CategoricalCrossEntropy(Loss):
    """Categorical cross-entropy, summed over classes and averaged over the batch.

    On probabilities a:  L = -Σ_i Σ_j y_ij log a_ij / m;   dL/da = -y / a / m
    From logits z (``from_logits=True``, or fused with a final Softmax layer):
        L = Σ_i [logsumexp(z_i) - Σ_j y_ij z_ij] / m
        dL/dz = (softmax(z) - y) / m
    (softmax's Jacobian diag(a) - a aᵀ times -y/a gives a Σ_j y_j - y = a - y for one-hot y.)
    Targets: integer class labels (m,) or one-hot / probability rows (m, k).
    """

    type_name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = bool(from_logits)

    def prepare_target(self, target: Any, output: np.ndarray) -> np.ndarray:
        y = np.asarray(target)
        k = output.shape[-1]
        if y.ndim == 1 and output.ndim == 2:
            return check_labels(y, k, output.shape[0], self.type_name)
        return _dense_target(y, output, self.type_name, allow_labels=False)

    def value(self, output: np.ndarray, target: Any) -> float:
        y = self.prepare_target(target, output)
        m = output.shape[0]
        if self.from_logits:
            log_p = log_softmax(output)
        else:
            with np.errstate(divide="ignore"):
                log_p = np.maximum(np.log(output), LOG_FLOOR)
        if y.ndim == 1:
            return float(-np.sum(log_p[np.arange(m), y]) / m)
        return float(-np.sum(y * log_p) / m)

    def gradient(self, output: np.ndarray, target: Any) -> np.ndarray:
        if self.from_logits:
            return self.gradient_from_activation(softmax(output), target)
        y = self.prepare_target(target, output)
        m = output.shape[0]
        if y.ndim == 1:
            y = one_hot(y, output.shape[-1], dtype=output.dtype)
        return -y / np.maximum(output, DIVISOR_FLOOR) / m

    def value_from_activation(self, a: np.ndarray, logits: np.ndarray, target: Any) -> float:
        """-mean log a_y from the softmax output when no a_y underflowed, else from logits.

        Reading log a_y off the probabilities the output layer already computed skips a
        second log-sum-exp over the logits; where some a_y is below 1e-30 (a confident
        mistake) the value comes from the logits, where it stays exact for any logit size.
        """
        y = self.prepare_target(target, a)
        if y.ndim == 1:
            picked = a[np.arange(a.shape[0]), y]
            if picked.size and picked.min() > 1e-30:
                return float(-np.sum(np.log(picked)) / a.shape[0])
        return self.value(logits, y)

    def gradient_from_activation(self, a: np.ndarray, target: Any) -> np.ndarray:
        """dL/dz = (a - y)/m given a = softmax(z), already computed by the output layer."""
        y = self.prepare_target(target, a)
        m = a.shape[0]
        delta = a.copy()
        if y.ndim == 1:
            delta[np.arange(m), y] -= 1
        else:
            delta -= y
        delta /= m
        return delta

    def fused_with(self, layer: Layer) -> Loss | None:
        if not self.from_logits and isinstance(layer, Softmax):
            return CategoricalCrossEntropy(from_logits=True)
        return None

    def get_config(self) -> dict[str, Any]:
        return {"name": self.type_name, "from_logits": self.from_logits}


class L2Penalty:
    """L2 weight decay, reported as its own term of the loss.

        penalty = (λ/2) Σ W²        gradient contribution  λ W

    summed over every weight tensor (and biases only when the model was built with
    ``l2_biases=True``). With this ½ the gradient term equals PyTorch's ``weight_decay=λ`` for
    SGD. The penalty does not depend on the batch, so it is added once per step.
    """

    def __init__(self, strength: float) -> None:
        if isinstance(strength, bool) or not isinstance(strength, int | float) or strength < 0:
            raise ValueError(f"l2: the strength must be a number >= 0, got {strength!r}")
        self.strength = float(strength)

    def value(self, weights: np.ndarray) -> float:
        if self.strength == 0.0:
            return 0.0
        return 0.5 * self.strength * float(np.dot(weights, weights))

    def add_gradient(self, weights: np.ndarray, grads: np.ndarray) -> None:
        if self.strength != 0.0:
            grads += self.strength * weights


def _outputs_per_example(output: np.ndarray) -> int:
    return int(np.prod(output.shape[1:])) if output.ndim > 1 else 1


def _dense_target(target: Any, output: np.ndarray, where: str, allow_labels: bool) -> np.ndarray:
    """A float target shaped like ``output``; a label vector is one-hot encoded if allowed."""
    y = np.asarray(target)
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{where}: targets must be numbers, got dtype {y.dtype}")
    if y.shape != output.shape:
        if y.ndim == 1 and output.ndim == 2 and output.shape[1] == 1 and len(y) == len(output):
            y = y.reshape(-1, 1)
        elif allow_labels and y.ndim == 1 and output.ndim == 2 and y.dtype.kind in "iu":
            y = one_hot(check_labels(y, output.shape[1], output.shape[0], where), output.shape[1])
        else:
            raise ValueError(
                f"{where}: target shape {y.shape} does not match the output shape {output.shape}"
            )
    if y.dtype != output.dtype:
        y = y.astype(output.dtype)
    return y


LOSSES: Registry[type[Loss]] = Registry("loss", plural="losses")
LOSSES.register("mse", MeanSquaredError, aliases=("mean_squared_error", "quadratic"))
LOSSES.register(
    "binary_crossentropy",
    BinaryCrossEntropy,
    aliases=("bce", "binary_cross_entropy", "log_loss"),
)
LOSSES.register(
    "categorical_crossentropy",
    CategoricalCrossEntropy,
    aliases=("cross_entropy", "crossentropy", "categorical_cross_entropy", "ce", "cce"),
)


def get_loss(spec: str | dict[str, Any] | Loss) -> Loss:
    """Resolve ``"mse"``, ``{"name": "mse", "reduction": "half_sum"}`` or an instance."""
    if isinstance(spec, Loss):
        return spec
    return LOSSES.create(spec)
