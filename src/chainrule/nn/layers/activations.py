"""Element-wise activations, and softmax, each a layer with its backward beside its forward.

Notation: z is the layer's input (a pre-activation), a = f(z) its output, dout = dL/da, and
the backward returns δ = dL/dz. For element-wise f the chain rule is one product per entry:

    δ = dout ⊙ f'(z)

and, as in scikit-learn, f' is written in terms of the *output* a wherever it can be
(σ' = a(1 - a), tanh' = 1 - a²), so the backward needs only the cached output.

=================  ===========================  ===============================
activation         a = f(z)                     f'(z)
=================  ===========================  ===============================
identity           z                            1
relu               max(0, z)                    1 if z > 0 else 0   (0 at z = 0)
leaky_relu         z if z > 0 else slope·z      1 if z > 0 else slope
sigmoid            1 / (1 + e^(-z))             a (1 - a)
tanh               tanh z                       1 - a²
improved_sigmoid   1.7159 tanh(2z/3)            (2/3)(1.7159 - a²/1.7159)
softmax            e^(z_j) / Σ_k e^(z_k)        Jacobian diag(a) - a aᵀ (per row)
=================  ===========================  ===============================

Each class states the same math once more in a form programs read, its ``math``
(``chainrule.nn.formulas.ActivationMath``): the formula and the derivative as Python functions
(held equal to forward and backward by the tests) and their notation. ``chainrule derive``,
``chainrule explain`` and the computation graphs print it, so a new activation is this one
file: its class, with ``math``, registered in ``chainrule.nn.layers``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.nn import kernels
from chainrule.nn.formulas import (
    ActivationMath,
    Notation,
    Ratio,
    RowwiseMath,
    add_math_to_docstring,
    exp,
    literal,
    tanh,
    tex_number,
    total,
    where,
)
from chainrule.nn.layers.base import Layer
from chainrule.utils.validation import check_number


class Activation(Layer):
    """An element-wise activation; the shape passes through unchanged.

    ``math`` describes its formula and derivative (a class attribute, or a property when it
    depends on the layer's arguments); an activation without one trains, but ``derive`` and
    ``explain`` cannot show it.
    """

    math: ActivationMath | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        add_math_to_docstring(cls)

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._cache: np.ndarray | None = None


class Identity(Activation):
    """a = z;  f'(z) = 1;  δ = dout. The output layer of a regression network."""

    type_name = "identity"
    math = ActivationMath(
        name="identity",
        symbol=Notation("identity", r"\operatorname{id}"),
        function=lambda z: z,
        derivative=lambda z, a: 1,
        definition=Notation("identity(z) = z", r"\operatorname{id}(z) = z"),
        derivative_definition=Notation("identity'(z) = 1", r"\operatorname{id}'(z) = 1"),
        batch="{z}",
        batch_derivative=None,
        derivative_rule="f'(z) = 1",
    )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._cache = x
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout


class ReLU(Activation):
    """a = max(0, z);  f'(z) = [z > 0];  δ = dout ⊙ [z > 0].

    The derivative at exactly z = 0 is taken as 0 (as PyTorch and TensorFlow do). Because
    z > 0 exactly where a > 0, the mask is read from the output.
    """

    type_name = "relu"
    math = ActivationMath(
        name="ReLU",
        symbol=Notation("ReLU", r"\operatorname{ReLU}"),
        function=lambda z: where(z > 0, z, 0),
        derivative=lambda z, a: where(z > 0, 1, 0),
        definition=Notation("ReLU(z) = max(0, z)", r"\operatorname{ReLU}(z) = \max(0, z)"),
        derivative_definition=Notation(
            "ReLU'(z) = 1 if z > 0 else 0 (0 at z = 0, as the engine takes it)",
            r"\operatorname{ReLU}'(z) = 1 \text{ if } z > 0 \text{ else } 0",
        ),
        batch=r"\max(0, {z})",
        batch_derivative="[{z} > 0]",
        derivative_rule=r"\operatorname{ReLU}'(z) = [z > 0]",
        derivative_note="0 at z = 0; the engine reads it from the output as $[a > 0]$",
    )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        a = np.maximum(x, 0)
        self._cache = a
        return a

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_forward_ran(self._cache)
        a = self._cache
        if kernels.enabled() and kernels.fits(a, dout):  # the two passes below in one
            return kernels.relu_backward(a, dout)
        delta = np.empty_like(dout)
        np.greater(a, 0, out=delta)  # the mask as 0.0/1.0, then δ = dout ⊙ mask in place:
        delta *= dout  # ~20% faster than multiplying by a boolean array
        return delta


class LeakyReLU(Activation):
    """a = z if z > 0 else slope·z;  f'(z) = 1 if z > 0 else slope;  δ = dout ⊙ f'(z)."""

    type_name = "leaky_relu"

    def __init__(self, slope: float = 0.01, name: str | None = None) -> None:
        super().__init__(name)
        self.slope = check_number(slope, "slope", where="leaky_relu")

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        positive = x > 0
        self._cache = positive
        return np.where(positive, x, self.slope * x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_forward_ran(self._cache)
        positive = self._cache
        return np.where(positive, dout, self.slope * dout)

    @property
    def math(self) -> ActivationMath:
        slope = self.slope
        text, tex = f"{slope:g}", tex_number(slope)
        bound = r"\max" if slope <= 1 else r"\min"  # the larger of z and slope·z for slope <= 1
        return ActivationMath(
            name="leaky ReLU",
            symbol=Notation("LeakyReLU", r"\operatorname{LeakyReLU}"),
            function=lambda z: where(z > 0, z, slope * z),
            derivative=lambda z, a: where(z > 0, 1, slope),
            definition=Notation(
                f"LeakyReLU(z) = z if z > 0 else {text}*z",
                rf"\operatorname{{LeakyReLU}}(z) = z \text{{ if }} z > 0 \text{{ else }} {tex} z",
            ),
            derivative_definition=Notation(
                f"LeakyReLU'(z) = 1 if z > 0 else {text}",
                rf"\operatorname{{LeakyReLU}}'(z) = 1 \text{{ if }} z > 0 \text{{ else }} {tex}",
            ),
            batch=rf"{bound}({{z}}, {literal(tex)} {{z}})",
            batch_derivative=rf"([{{z}} > 0] + {literal(tex)}\,[{{z}} \le 0])",
            derivative_rule=rf"f'(z) = 1 \text{{ if }} z > 0 \text{{ else }} {tex}",
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "slope": self.slope}


class Sigmoid(Activation):
    """a = σ(z) = 1 / (1 + e^(-z));  σ'(z) = a (1 - a);  δ = dout ⊙ a (1 - a).

    Computed as e^(-|z|) based fractions so that z = ±1e4 neither overflows nor warns:
    σ(z) = 1 / (1 + e^(-z)) for z ≥ 0 and e^(z) / (1 + e^(z)) for z < 0.
    """

    type_name = "sigmoid"
    math = ActivationMath(
        name="sigmoid",
        symbol=Notation("sigmoid", r"\sigma"),
        function=lambda z: 1 / (1 + exp(-z)),
        derivative=lambda z, a: a * (1 - a),
        definition=Notation("sigmoid(z) = 1 / (1 + exp(-z))", r"\sigma(z) = \frac{1}{1 + e^{-z}}"),
        derivative_definition=Notation(
            "sigmoid'(z) = a*(1 - a), from the output a", r"\sigma'(z) = a (1 - a)"
        ),
        batch=r"\sigma({z})",
        batch_derivative=r"{a} \odot (1 - {a})",
        derivative_rule=r"\sigma'(z) = a(1 - a)",
        derivative_note="from the output",
    )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        a = sigmoid(x)
        self._cache = a
        return a

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_forward_ran(self._cache)
        a = self._cache
        return dout * a * (1 - a)  # σ' from its output


class Tanh(Activation):
    """a = tanh z;  tanh'(z) = 1 - a²;  δ = dout ⊙ (1 - a²)."""

    type_name = "tanh"
    math = ActivationMath(
        name="tanh",
        symbol=Notation("tanh", r"\tanh"),
        function=lambda z: tanh(z),
        derivative=lambda z, a: 1 - a**2,
        definition=Notation(
            "tanh(z) = (e^z - e^-z) / (e^z + e^-z)",
            r"\tanh z = \frac{e^z - e^{-z}}{e^z + e^{-z}}",
        ),
        derivative_definition=Notation(
            "tanh'(z) = 1 - a^2, from the output a", r"\tanh'(z) = 1 - a^2"
        ),
        batch=r"\tanh({z})",
        batch_derivative=r"(1 - {a} \odot {a})",
        derivative_rule=r"\tanh'(z) = 1 - a^2",
        derivative_note="from the output",
    )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        a = np.tanh(x)
        self._cache = a
        return a

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_forward_ran(self._cache)
        a = self._cache
        return dout * (1 - a * a)  # tanh' from its output


class ImprovedSigmoid(Activation):
    """LeCun's "improved sigmoid": a = A tanh(B z) with A = 1.7159, B = 2/3.

    Chosen (LeCun et al., "Efficient BackProp", 1998) so that f(±1) = ±1 and the gain is
    steepest near the targets. Local derivative, from the output:
        f'(z) = A B (1 - tanh²(B z)) = B (A - a² / A)
    δ = dout ⊙ B (A - a²/A).
    """

    type_name = "improved_sigmoid"
    A = 1.7159
    B = 2.0 / 3.0

    @property
    def math(self) -> ActivationMath:
        A, B = self.A, Ratio(2, 3)  # B printed as the fraction it is
        scale = literal(tex_number(A))  # A inside the {z} templates
        return ActivationMath(
            name="improved sigmoid",
            symbol=Notation("isig", r"\operatorname{isig}"),
            function=lambda z: A * tanh(B * z),
            derivative=lambda z, a: B * (A - a**2 / A),
            definition=Notation(
                f"isig(z) = {A:g}*tanh(2z/3), LeCun's improved sigmoid",
                rf"\operatorname{{isig}}(z) = {A:g} \tanh(2z/3)",
            ),
            derivative_definition=Notation(
                f"isig'(z) = (2/3)*({A:g} - a^2/{A:g}), from the output a",
                rf"\operatorname{{isig}}'(z) = \tfrac{{2}}{{3}}({A:g} - a^2/{A:g})",
            ),
            batch=rf"{scale} \tanh(2/3 \cdot {{z}})",
            batch_derivative=rf"(2/3)({scale} - {{a}} \odot {{a}}/{scale})",
            derivative_rule=rf"f'(z) = (2/3)({tex_number(A)} - a^2/{tex_number(A)})",
            derivative_note="from the output",
        )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        a = self.A * np.tanh(self.B * x)
        self._cache = a
        return a

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_forward_ran(self._cache)
        a = self._cache
        return dout * (self.B * (self.A - a * a / self.A))


class Softmax(Activation):
    """a_j = e^(z_j) / Σ_k e^(z_k), per row; computed after subtracting the row's max.

    Not element-wise: ∂a_j/∂z_k = a_j ([j = k] - a_k), the Jacobian diag(a) - a aᵀ. Its
    vector product, without forming the (n × n) Jacobian per example:
        δ_k = Σ_j dout_j a_j ([j = k] - a_k) = a_k (dout_k - Σ_j dout_j a_j)
    i.e. δ = a ⊙ (dout - rowsum(dout ⊙ a)).

    When softmax is the last layer and the loss is categorical cross-entropy, the model fuses
    the two and never calls this backward: dL/dz = (a - y) / m directly.
    """

    type_name = "softmax"
    math = ActivationMath(
        name="softmax",
        symbol=Notation("softmax", r"\operatorname{softmax}"),
        function=None,  # row-wise: see rowwise.entry
        derivative=None,
        definition=Notation(
            "softmax(z)[j] = exp(z[j]) / Σ_k exp(z[k])",
            r"\operatorname{softmax}(z)_j = \frac{e^{z_j}}{\sum_k e^{z_k}}",
        ),
        derivative_definition=Notation(
            "da[i]/dz[j] = a[i]*([i = j] - a[j]): not diagonal, every output depends on every z",
            r"\frac{\partial a_i}{\partial z_j} = a_i([i = j] - a_j)",
        ),
        batch=r"\operatorname{{softmax}}({z})",
        batch_derivative=None,
        derivative_rule=r"\partial a_j/\partial z_k = a_j([j = k] - a_k)",
        derivative_note=r"row-wise; its Jacobian is $\operatorname{diag}(a) - a a^\top$ "
        "for each row",
        rowwise=RowwiseMath(
            entry=lambda z, j: exp(z[j]) / total(exp(z_k) for z_k in z),
            jacobian=lambda a_i, a_j, same: a_i * (1 - a_i) if same else -(a_i * a_j),
            entry_definition=Notation(
                "exp({z}[j]) / Σ_k exp({z}[k])", r"\frac{{e^{{{z}_j}}}}{{\sum_k e^{{{z}_k}}}}"
            ),
            batch_jacobian=r"\operatorname{{diag}}({a}) - {a} {a}^\top",
            batch_backward=r"{a} \odot (G - \operatorname{{rowsum}}(G \odot {a}))",
        ),
    )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        a = softmax(x)
        self._cache = a
        return a

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_forward_ran(self._cache)
        a = self._cache
        projection = np.sum(dout * a, axis=-1, keepdims=True)
        return a * (dout - projection)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (no overflow for any finite z)."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax; subtracting the row max leaves it unchanged and avoids overflow."""
    # (the array methods, not np.max/np.sum: the same reductions without their Python
    # wrapper, a few µs a step at batch 32)
    e = z - z.max(axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, z - logsumexp(z), stable for logits of any size."""
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
