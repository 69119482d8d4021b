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

Each loss also states its math in a form programs read, its ``math``
(``chainrule.nn.formulas.LossMath``): the batch formulas ``chainrule derive`` prints, the
per-example value and gradient the worked example computes with (held equal to ``value`` and
``gradient`` by the tests), and the fused form with its partner activation.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from chainrule.nn.formulas import ExampleLoss, FusedLoss, LossMath, Notation, Ratio, log, total
from chainrule.nn.labels import check_labels, one_hot
from chainrule.nn.layers.activations import Sigmoid, Softmax, log_softmax, sigmoid, softmax
from chainrule.nn.layers.base import Layer
from chainrule.utils.registry import Registry
from chainrule.utils.validation import check_number

LOG_FLOOR = -100.0
DIVISOR_FLOOR = 1e-12


class Loss:
    """Base class: ``value`` and ``gradient`` take the output and a target of any accepted form."""

    type_name: ClassVar[str] = "loss"
    from_logits: bool = False
    #: The loss's math (``chainrule.nn.formulas.LossMath``), for derive and explain; a property
    #: in the losses below, since it depends on their arguments.
    math: LossMath | None = None

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

    def value_and_gradient_from_activation(
        self, a: np.ndarray, logits: np.ndarray, target: Any
    ) -> tuple[float, np.ndarray]:
        """``value_from_activation`` and ``gradient_from_activation`` together, as a training
        step needs them, the target prepared once and handed on in its working form (the
        same numbers as the two calls; cross-entropy also reads a_y once for both)."""
        y = self.prepare_target(target, a)
        return self.value_from_activation(a, logits, y), self._gradient_of_prepared(a, y)

    def _gradient_of_prepared(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.gradient_from_activation(a, y)

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

    @property
    def math(self) -> LossMath:
        reduction = self.reduction
        norm = r"\lVert{{{a} - Y}}\rVert_F^2"
        value, gradient = {
            "mean": (norm + r" \,/\, (m k)", "2({a} - Y)/(m k)"),
            "sum": (norm + r" \,/\, m", "2({a} - Y)/m"),
            "half_sum": (norm + r" \,/\, (2m)", "({a} - Y)/m"),
        }[reduction]
        outputs = "$k = {k}$ outputs; " if reduction == "mean" else ""
        # One example: L = scale(k) Σ_j (a_j - y_j)², so dL/da_j = 2 scale(k) (a_j - y_j).
        scale = {
            "mean": lambda k: Ratio(1, k),
            "sum": lambda k: 1,
            "half_sum": lambda k: Ratio(1, 2),
        }
        example_gradient = {
            "mean": lambda a, y, k: Ratio(2, k) * (a - y),
            "sum": lambda a, y, k: 2 * (a - y),
            "half_sum": lambda a, y, k: a - y,
        }
        conventions = {
            "mean": lambda k: (
                f"mean squared error, averaged over the {k} output{'s' * (k != 1)} "
                "(reduction: mean)"
            ),
            "sum": lambda k: "squared error summed over the outputs (reduction: sum)",
            "half_sum": lambda k: (
                "one half of the squared error summed over the outputs "
                "(reduction: half_sum, so that dL/da = a - y)"
            ),
        }

        def definition(a: Notation, k: int) -> Notation:
            """L for one example of k outputs, with the factor of the reduction."""
            if reduction == "half_sum":
                factor = Notation("(1/2) ", r"\frac{1}{2}")
            elif reduction == "mean" and k > 1:
                factor = Notation(f"(1/{k}) ", rf"\frac{{1}}{{{k}}}")
            else:
                factor = Notation("", "")
            return Notation(
                f"L = {factor.text}Σ_j ({a.text}[j] - y[j])^2",
                f"L = {factor.tex}\\sum_j \\left({a.tex}_j - y_j\\right)^2",
            )

        def gradient_definition(a: Notation, k: int) -> Notation:
            """dL/da_j for output a_j (``a`` names the element)."""
            if reduction == "half_sum":
                return Notation(f"{a.text} - y[j]", f"{a.tex} - y_j")
            if reduction == "mean" and k > 1:
                factor = Notation(f"(2/{k})*", rf"\frac{{2}}{{{k}}}")
            else:
                factor = Notation("2*", "2")
            return Notation(f"{factor.text}({a.text} - y[j])", f"{factor.tex}({a.tex} - y_j)")

        return LossMath(
            name=f"mean squared error (reduction '{reduction}')",
            short_name=f"MSE ({reduction})",
            value=value,
            gradient=gradient,
            note=outputs + r"$\lVert \cdot \rVert_F^2$ sums the squares of every entry",
            example=ExampleLoss(
                convention=conventions[reduction],
                definition=definition,
                value=lambda a, y: (
                    scale[reduction](len(a))
                    * total((a_j - y_j) ** 2 for a_j, y_j in zip(a, y, strict=True))
                ),
                gradient=example_gradient[reduction],
                gradient_definition=gradient_definition,
            ),
        )

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
        return self._gradient_of_prepared(a, self.prepare_target(target, a))

    def _gradient_of_prepared(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        delta = a - y
        delta /= a.size
        return delta

    def fused_with(self, layer: Layer) -> Loss | None:
        if not self.from_logits and isinstance(layer, Sigmoid):
            return BinaryCrossEntropy(from_logits=True)
        return None

    @property
    def math(self) -> LossMath:
        if self.from_logits:
            return LossMath(
                name="binary cross-entropy from logits",
                short_name="binary cross-entropy",
                value=r"\sum [\max({a}, 0) - {a} \odot Y + \log(1 + e^{{-|{a}|}})] \,/\, (m k)",
                gradient=r"(\sigma({a}) - Y)/(m k)",
                note="$k = {k}$ outputs; the output ${a}$ is read as logits",
            )
        value = r"-\sum [Y \odot \log {a} + (1 - Y) \odot \log(1 - {a})] \,/\, (m k)"

        def definition(a: Notation, k: int) -> Notation:
            """L for one example, the mean over its k outputs."""
            scale = Notation("", "") if k == 1 else Notation(f"(1/{k}) ", rf"\frac{{1}}{{{k}}}")
            return Notation(
                f"L = -{scale.text}Σ_j [y[j]*log({a.text}[j]) + (1 - y[j])*log(1 - {a.text}[j])]",
                rf"L = -{scale.tex}\sum_j \left[y_j \log {a.tex}_j + (1 - y_j)"
                rf"\log(1 - {a.tex}_j)\right]",
            )

        def gradient_definition(a: Notation, k: int) -> Notation:
            """dL/da_j for output a_j (``a`` names the element)."""
            scale = Notation("", "") if k == 1 else Notation(f"{k}*", rf"{k}\,")
            return Notation(
                f"({a.text} - y[j]) / ({scale.text}{a.text}*(1 - {a.text}))",
                rf"\frac{{{a.tex} - y_j}}{{{scale.tex}{a.tex}(1 - {a.tex})}}",
            )

        def delta_definition(a: Notation, k: int) -> Notation:
            """δ = dL/dz for the output ``a``: the mean over its k outputs of a - y."""
            if k == 1:
                return Notation(f"{a.text} - y", rf"\left({a.tex} - y\right)")
            return Notation(f"({a.text} - y) / {k}", rf"\frac{{1}}{{{k}}}\left({a.tex} - y\right)")

        return LossMath(
            name="binary cross-entropy",
            short_name="binary cross-entropy",
            value=value,
            gradient=r"({a} - Y) \oslash ({a} \odot (1 - {a}))/(m k)",
            note="$k = {k}$ outputs; divisors clamped at $10^{{-12}}$",
            example=ExampleLoss(
                convention=lambda k: (
                    f"binary cross-entropy, averaged over the {k} outputs"
                    if k > 1
                    else "binary cross-entropy"
                ),
                definition=definition,
                value=lambda a, y: (
                    -(
                        Ratio(1, len(a))
                        * total(
                            y_j * log(a_j) + (1 - y_j) * log(1 - a_j)
                            for a_j, y_j in zip(a, y, strict=True)
                        )
                    )
                ),
                gradient=lambda a, y, k: (a - y) / (k * a * (1 - a)),
                gradient_definition=gradient_definition,
            ),
            fused=FusedLoss(
                name="binary cross-entropy, fused with the sigmoid",
                pair="sigmoid + BCE",
                value=value,
                gradient="({a} - Y)/(m k)",
                note=r"$k = {k}$ outputs per example, so the mean runs over $m k$ terms; the value "
                r"is computed from the logits ${z}$; $\sigma'(z) = a(1 - a)$ cancels the "
                r"$a(1 - a)$ of $\partial\mathcal{{L}}/\partial a$",
                explanation="sigmoid + binary cross-entropy, fused as the engine does: dL/dz is "
                "shown directly (dL/da = (a - y)/(a(1 - a)) times sigmoid' = a(1 - a) simplify "
                "to a - y).",
                delta=lambda a, y, k: (a - y) / k,
                delta_definition=delta_definition,
            ),
        )

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
        return self._value_of_prepared(a, logits, self.prepare_target(target, a))

    def _value_of_prepared(
        self, a: np.ndarray, logits: np.ndarray, y: np.ndarray, picked: np.ndarray | None = None
    ) -> float:
        """``picked``: a_y, the output at each example's class, if already read."""
        if y.ndim == 1:
            picked = a[np.arange(a.shape[0]), y] if picked is None else picked
            if picked.size and picked.min() > 1e-30:
                return float(-np.log(picked).sum() / a.shape[0])
        return self.value(logits, y)

    def gradient_from_activation(self, a: np.ndarray, target: Any) -> np.ndarray:
        """dL/dz = (a - y)/m given a = softmax(z), already computed by the output layer."""
        return self._gradient_of_prepared(a, self.prepare_target(target, a))

    def _gradient_of_prepared(
        self, a: np.ndarray, y: np.ndarray, picked: np.ndarray | None = None
    ) -> np.ndarray:
        m = a.shape[0]
        delta = a.copy()
        if y.ndim == 1:  # a - Y: 1 off each example's class
            rows = np.arange(m)
            delta[rows, y] = (a[rows, y] if picked is None else picked) - 1
        else:
            delta -= y
        delta /= m
        return delta

    def value_and_gradient_from_activation(
        self, a: np.ndarray, logits: np.ndarray, target: Any
    ) -> tuple[float, np.ndarray]:
        y = self.prepare_target(target, a)
        picked = a[np.arange(a.shape[0]), y] if y.ndim == 1 else None  # read once, for both
        return self._value_of_prepared(a, logits, y, picked), self._gradient_of_prepared(
            a, y, picked
        )

    def fused_with(self, layer: Layer) -> Loss | None:
        if not self.from_logits and isinstance(layer, Softmax):
            return CategoricalCrossEntropy(from_logits=True)
        return None

    @property
    def math(self) -> LossMath:
        if self.from_logits:
            return LossMath(
                name="categorical cross-entropy from logits",
                short_name="cross-entropy",
                value=r"\sum_i [\operatorname{{logsumexp}}({a})_i - Y_i \cdot ({a})_i] \,/\, m",
                gradient=r"(\operatorname{{softmax}}({a}) - Y)/m",
                note="the output ${a}$ is read as logits",
            )
        value = r"-\sum Y \odot \log {a} \,/\, m"
        return LossMath(
            name="categorical cross-entropy",
            short_name="cross-entropy",
            value=value,
            gradient=r"-Y \oslash {a} \,/\, m",
            note="divisors clamped at $10^{{-12}}$",
            example=ExampleLoss(
                convention=lambda k: "categorical cross-entropy, summed over the classes",
                definition=lambda a, k: Notation(
                    f"L = -Σ_j y[j]*log({a.text}[j])", f"L = -\\sum_j y_j \\log {a.tex}_j"
                ),
                value=lambda a, y: -total(y_j * log(a_j) for a_j, y_j in zip(a, y, strict=True)),
                gradient=lambda a, y, k: -(y / a),
                gradient_definition=lambda a, k: Notation(
                    f"-y[j] / {a.text}", f"-\\frac{{y_j}}{{{a.tex}}}"
                ),
            ),
            fused=FusedLoss(
                name="categorical cross-entropy, fused with the softmax",
                pair="softmax + CE",
                value=value,
                gradient="({a} - Y)/m",
                note=r"the value is computed from the logits ${z}$ with log-sum-exp; the softmax "
                r"Jacobian $\operatorname{{diag}}(a) - a a^\top$ times $-y/a$ collapses to $a - y$",
                explanation="softmax + categorical cross-entropy, fused as the engine does: dL/dz "
                "is shown directly (the softmax Jacobian diag(a) - a a^T times dL/da = -y/a, "
                "with sum(y) = 1 simplify to a - y).",
                delta=lambda a, y, k: a - y,
                delta_definition=lambda a, k: Notation(
                    f"{a.text} - y", f"\\left({a.tex} - y\\right)"
                ),
            ),
        )

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
        self.strength = check_number(strength, "the strength", minimum=0, where="l2")

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
