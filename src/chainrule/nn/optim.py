"""Optimizers over the flat parameter and gradient buffers.

Every optimizer updates ``params`` (the model's one flat buffer) in place from ``grads`` (the
matching flat gradient buffer), so one step is a handful of whole-buffer ufuncs, whatever the
number of layers. Each owns its state (velocity, moments, step count) and its
``learning_rate``, which a schedule may change between steps.

The update formulas follow PyTorch's ``torch.optim`` exactly (given below in each docstring),
so the same network trained here and there from the same weights follows the same numbers.
Notation: θ parameters, g gradient, η learning rate, t the step count starting at 1.

Each optimizer also states its update in a form programs read, its ``math``
(``chainrule.nn.formulas.OptimizerMath``): the rule line by line as Python functions of θ, g,
t, the hyperparameters and the state (held equal to ``step`` by the tests), with the notation
``chainrule derive`` and the worked example print. A new optimizer is one class in this file.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from chainrule.nn import kernels
from chainrule.nn.formulas import Notation, OptimizerMath, UpdateRule, add_math_to_docstring, sqrt
from chainrule.utils.registry import Registry
from chainrule.utils.validation import check_number

#: Symbols of the hyperparameters: text for the worked example, TeX for the derivation.
ETA = Notation("η", r"\eta")
MU = Notation("μ", r"\mu")
RHO = Notation("ρ", r"\rho")
EPSILON = Notation("ε", r"\epsilon")
BETA1 = Notation("β1", r"\beta_1")
BETA2 = Notation("β2", r"\beta_2")
LAMBDA_W = Notation("λw", r"\lambda_w")


class Optimizer:
    """Base class. ``step(params, grads)`` applies one update in place.

    Every ``FLUSH_EVERY`` steps, state entries smaller than the smallest normal float are set
    to zero. A weight whose gradient is always 0 (one fed by an always-black border pixel) has
    its momentum decay geometrically through the subnormal range, and arithmetic on subnormal
    numbers is ~25x slower on x86 CPUs: without the flush, such entries slowed whole Adam steps
    2-3x after the first epoch. What is zeroed is below 1.2e-38 (float32): already zero for
    every practical purpose.
    """

    type_name: ClassVar[str] = "optimizer"
    FLUSH_EVERY: ClassVar[int] = 16
    #: Names of the per-parameter state buffers (saved in checkpoints).
    STATE: ClassVar[tuple[str, ...]] = ()
    #: The update rule, for derive and explain (``chainrule.nn.formulas.OptimizerMath``).
    math: ClassVar[OptimizerMath | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        add_math_to_docstring(cls)

    def __init__(self, learning_rate: float, clip_norm: float | None = None) -> None:
        self.learning_rate = _check_number(self.type_name, "learning_rate", learning_rate)
        self.clip_norm = (
            None if clip_norm is None else _check_number(self.type_name, "clip_norm", clip_norm)
        )
        self.iterations = 0
        self.last_grad_norm: float | None = None
        self._scratch: np.ndarray | None = None

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        if params.shape != grads.shape or params.ndim != 1:
            raise ValueError(
                f"{self.type_name}: params and grads must be flat buffers of one shape, got "
                f"{params.shape} and {grads.shape}"
            )
        if self._scratch is None or self._scratch.shape != params.shape:
            self._allocate(params)
        if self.clip_norm is not None:
            self._clip(grads)
        self.iterations += 1
        self._update(params, grads)
        if self.iterations % self.FLUSH_EVERY == 0:
            self._flush_subnormals()

    def kernels_used(self) -> tuple[str, ...]:
        """The compiled kernels a step of this optimizer runs (``chainrule.nn.kernels``
        names), which training loads before its first epoch: the flush of its state."""
        return ("flush_subnormals",) if self.STATE else ()

    def _clip(self, grads: np.ndarray) -> None:
        """Rescale the whole gradient when its L2 norm exceeds ``clip_norm``, in place.

        PyTorch's ``clip_grad_norm_``: g ← g · c / (‖g‖ + 1e-6) when that factor is below 1.
        One direction, shorter: a single huge gradient cannot throw the weights far away.
        """
        norm = math.sqrt(float(np.dot(grads, grads)))
        self.last_grad_norm = norm
        factor = self.clip_norm / (norm + 1e-6)
        if factor < 1.0:
            grads *= factor

    def state_arrays(self) -> list[np.ndarray]:
        """The optimizer's per-parameter state buffers (velocity, moments …)."""
        return [getattr(self, name) for name in self.STATE if getattr(self, name) is not None]

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(buffers by name, scalars): everything a checkpoint needs to continue exactly."""
        arrays = {name: np.array(getattr(self, name)) for name in self.STATE
                  if getattr(self, name) is not None}  # fmt: skip
        return arrays, {"iterations": self.iterations, "learning_rate": self.learning_rate}

    def load_state_dict(self, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        """Restore what ``state_dict`` gave; buffers must match the parameter count."""
        self.iterations = int(scalars["iterations"])
        self.learning_rate = float(scalars["learning_rate"])
        if not arrays:
            return
        sizes = {array.shape for array in arrays.values()}
        if len(sizes) != 1:
            raise ValueError(f"{self.type_name}: checkpoint buffers differ in size: {sizes}")
        self._allocate(np.empty(next(iter(sizes)), dtype=next(iter(arrays.values())).dtype))
        for name in self.STATE:
            if name not in arrays:
                raise ValueError(f"{self.type_name}: checkpoint lacks the state buffer {name!r}")
            getattr(self, name)[...] = arrays[name]

    def _flush_subnormals(self) -> None:
        for state in self.state_arrays():
            if kernels.enabled() and kernels.fits(state):  # the two passes below in one
                kernels.flush_subnormals(state)
                continue
            tiny = np.finfo(state.dtype).tiny
            np.abs(state, out=self._scratch)
            state[self._scratch < tiny] = 0

    def _allocate(self, params: np.ndarray) -> None:
        self._scratch = np.empty_like(params)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        hyper = {"learning_rate": self.learning_rate}
        if self.clip_norm is not None:
            hyper["clip_norm"] = self.clip_norm
        return hyper

    def get_config(self) -> dict[str, Any]:
        return {"name": self.type_name, **self.hyperparameters()}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({arguments})"


class SGD(Optimizer):
    """Plain gradient descent: θ ← θ - η g.

    "GD", "SGD" and "mini-batch SGD" are this same rule; they differ only in how many examples
    the gradient g was averaged over, which is the trainer's batching mode, not the optimizer.
    """

    type_name = "sgd"
    math = OptimizerMath(
        name="gradient descent (SGD)",
        short_name="gradient descent",
        symbols={"learning_rate": ETA},
        rules=(
            UpdateRule(
                "θ", lambda theta, g, learning_rate: theta - learning_rate * g, r"\theta - \eta g"
            ),
        ),
        worked=(
            Notation(
                "θ ← θ - η*dL/dθ,   η = {learning_rate}",
                r"\theta \leftarrow \theta - \eta \frac{{\partial L}}{{\partial \theta}}, \quad "
                r"\eta = {learning_rate}",
            ),
        ),
    )

    def __init__(self, learning_rate: float = 0.01, clip_norm: float | None = None) -> None:
        super().__init__(learning_rate, clip_norm)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        np.multiply(grads, self.learning_rate, out=self._scratch)
        params -= self._scratch


class Momentum(Optimizer):
    """SGD with momentum, PyTorch's form (dampening 0):

        v ← μ v + g           (v starts at 0, so v₁ = g)
        θ ← θ - η v

    The CS231n form v ← μ v - η g, θ ← θ + v is the same sequence of parameters while η is
    constant; it differs when a schedule changes η, and this form is the one PyTorch uses.
    """

    type_name = "momentum"
    STATE = ("velocity",)
    math = OptimizerMath(
        name="SGD with momentum",
        short_name="momentum",
        symbols={"learning_rate": ETA, "momentum": MU},
        rules=(
            UpdateRule(
                "v",
                lambda v, g, momentum: momentum * v + g,
                r"\mu v + g",
                "velocity, starts at 0 (so the first v is g)",
            ),
            UpdateRule(
                "θ", lambda theta, v, learning_rate: theta - learning_rate * v, r"\theta - \eta v"
            ),
        ),
        state={"v": "velocity"},
        worked=(
            Notation(
                "v(θ) ← μ*v(θ) + dL/dθ,  θ ← θ - η*v(θ),   η = {learning_rate}, μ = {momentum}, "
                "v starts at 0 (PyTorch's form)",
                r"v \leftarrow \mu v + \frac{{\partial L}}{{\partial \theta}}, \quad \theta "
                r"\leftarrow \theta - \eta v, \quad \eta = {learning_rate}, \mu = {momentum}",
            ),
        ),
    )

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.9, clip_norm: float | None = None
    ) -> None:
        super().__init__(learning_rate, clip_norm)
        self.momentum = _check_fraction(self.type_name, "momentum", momentum)
        self.velocity: np.ndarray | None = None

    def _allocate(self, params: np.ndarray) -> None:
        super()._allocate(params)
        self.velocity = np.zeros_like(params)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        v = self.velocity
        v *= self.momentum
        v += grads
        self._apply(params, grads, v)

    def _apply(self, params: np.ndarray, grads: np.ndarray, v: np.ndarray) -> None:
        np.multiply(v, self.learning_rate, out=self._scratch)
        params -= self._scratch

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "momentum": self.momentum}


class ClassicMomentum(Momentum):
    """Momentum in the classic form (Polyak; CS231n's and many textbooks' notes):

        v ← μ v - η g         (v starts at 0)
        θ ← θ + v

    At a constant learning rate this is PyTorch's form with v_classic = -η v_torch: the same
    weights, step for step (so its ``torch.optim`` twin is SGD with momentum). It differs when
    a schedule changes η, since here a new η reaches only the newest gradients.
    """

    type_name = "classic_momentum"
    math = OptimizerMath(
        name="SGD with momentum, classic form",
        short_name="classic momentum",
        symbols={"learning_rate": ETA, "momentum": MU},
        rules=(
            UpdateRule(
                "v",
                lambda v, g, momentum, learning_rate: momentum * v - learning_rate * g,
                r"\mu v - \eta g",
                "velocity, starts at 0",
            ),
            UpdateRule("θ", lambda theta, v: theta + v, r"\theta + v"),
        ),
        state={"v": "velocity"},
        worked=(
            Notation(
                "v(θ) ← μ*v(θ) - η*dL/dθ,  θ ← θ + v(θ),   η = {learning_rate}, μ = {momentum}, "
                "v starts at 0 (the classic form)",
                r"v \leftarrow \mu v - \eta \frac{{\partial L}}{{\partial \theta}}, \quad \theta "
                r"\leftarrow \theta + v, \quad \eta = {learning_rate}, \mu = {momentum}",
            ),
        ),
    )

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        v = self.velocity
        v *= self.momentum
        np.multiply(grads, self.learning_rate, out=self._scratch)
        v -= self._scratch
        params += v


class Nesterov(Momentum):
    """Nesterov momentum, PyTorch's form:

        v ← μ v + g
        θ ← θ - η (g + μ v)

    i.e. the step uses the gradient plus the look-ahead of the *new* velocity.
    """

    type_name = "nesterov"
    math = OptimizerMath(
        name="Nesterov momentum",
        short_name="Nesterov momentum",
        symbols={"learning_rate": ETA, "momentum": MU},
        rules=(
            UpdateRule(
                "v", lambda v, g, momentum: momentum * v + g, r"\mu v + g", "velocity, starts at 0"
            ),
            UpdateRule(
                "θ",
                lambda theta, g, v, learning_rate, momentum: (
                    theta - learning_rate * (g + momentum * v)
                ),
                r"\theta - \eta (g + \mu v)",
                "look-ahead with the new velocity",
            ),
        ),
        state={"v": "velocity"},
        worked=(
            Notation(
                "v(θ) ← μ*v(θ) + dL/dθ,  θ ← θ - η*(dL/dθ + μ*v(θ)),   η = {learning_rate}, "
                "μ = {momentum}, v starts at 0 (PyTorch's form)",
                r"v \leftarrow \mu v + \frac{{\partial L}}{{\partial \theta}}, \quad \theta "
                r"\leftarrow \theta - \eta \left(\frac{{\partial L}}{{\partial \theta}} + \mu v\right), "
                r"\quad \eta = {learning_rate}, \mu = {momentum}",
            ),
        ),
    )

    def _apply(self, params: np.ndarray, grads: np.ndarray, v: np.ndarray) -> None:
        step = self._scratch
        np.multiply(v, self.momentum, out=step)
        step += grads
        step *= self.learning_rate
        params -= step


#: AdaGrad's and RMSProp's step, which differ only in how they keep s: each coordinate's step
#: is divided by the root of its own squared-gradient statistic.
ROOT_SCALED_STEP = UpdateRule(
    "θ",
    lambda theta, g, s, learning_rate, epsilon: theta - learning_rate * (g / (sqrt(s) + epsilon)),
    r"\theta - \eta\, g \oslash (\sqrt{s} + \epsilon)",
    r"$\epsilon$ outside the root",
)


class AdaGrad(Optimizer):
    """AdaGrad, PyTorch's form: each parameter's step shrinks with its gradient history.

    s ← s + g²
    θ ← θ - η g / (√s + ε)      ε = 1e-10, added outside the square root

    Rounding against PyTorch's as in ``RMSProp``: PyTorch fuses s + g g into one rounding and
    rounds (η g) / (√s + ε) where this rounds η (g / (√s + ε)); ~1 ulp a step.
    """

    type_name = "adagrad"
    STATE = ("sum_of_squares",)
    math = OptimizerMath(
        name="AdaGrad",
        short_name="AdaGrad",
        symbols={"learning_rate": ETA, "epsilon": EPSILON},
        rules=(
            UpdateRule(
                "s",
                lambda s, g: s + g * g,
                r"s + g \odot g",
                "sum of squared gradients, starts at 0",
            ),
            ROOT_SCALED_STEP,
        ),
        state={"s": "sum_of_squares"},
    )

    def __init__(
        self, learning_rate: float = 0.01, epsilon: float = 1e-10, clip_norm: float | None = None
    ) -> None:
        super().__init__(learning_rate, clip_norm)
        self.epsilon = _check_number(self.type_name, "epsilon", epsilon)
        self.sum_of_squares: np.ndarray | None = None

    def _allocate(self, params: np.ndarray) -> None:
        super()._allocate(params)
        self.sum_of_squares = np.zeros_like(params)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        s, step = self.sum_of_squares, self._scratch
        np.multiply(grads, grads, out=step)
        s += step
        np.sqrt(s, out=step)
        step += self.epsilon
        np.divide(grads, step, out=step)
        step *= self.learning_rate
        params -= step

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "epsilon": self.epsilon}


class RMSProp(Optimizer):
    """RMSProp, PyTorch's form: a running average of squared gradients scales each step.

        s ← ρ s + (1 - ρ) g²        ρ = 0.99 (PyTorch's ``alpha``), s starts at 0
        θ ← θ - η g / (√s + ε)      ε = 1e-8, added outside the square root
    (Keras uses ρ = 0.9 and puts ε inside the root; this follows PyTorch.)

    Against PyTorch's ``_single_tensor_rmsprop``, rounding for rounding: s is updated in its
    order, ρ s + ((1 - ρ) g) g, but its CPU ``addcmul`` fuses that multiply-add into one
    rounding, and its float64 ``sqrt`` is 1 ulp off the correctly rounded root for a fraction
    of a percent of elements, neither of which NumPy can do. PyTorch's θ update rounds
    (η g) / (√s + ε); this one η (g / (√s + ε)), since PyTorch's order needs a second
    parameter-sized scratch buffer and measured 4% slower per step (AdaGrad's 15%). Fed the
    same gradients, the two stay ~4e-16 apart over 50 steps (``benchmarks/parity.py``).

    Where √s is near or below ε (a parameter's first tiny gradients, a nearly dead unit) the
    step is about η g / ε, 10⁶ g at the defaults, so a difference in the last bits of such a
    g (small because its terms cancel) reaches θ 10⁶-fold. This is why two implementations
    that agree to 1 ulp per step, trained on gradients from two BLAS libraries, can drift
    apart by 1e-9 within 50 steps where SGD's stay 1e-16 apart.
    """

    type_name = "rmsprop"
    STATE = ("mean_square",)
    math = OptimizerMath(
        name="RMSProp",
        short_name="RMSProp",
        symbols={"learning_rate": ETA, "rho": RHO, "epsilon": EPSILON},
        rules=(
            UpdateRule(
                "s",
                lambda s, g, rho: rho * s + (1 - rho) * (g * g),
                r"\rho s + (1 - \rho)\, g \odot g",
                "running mean of squares, starts at 0",
            ),
            ROOT_SCALED_STEP,
        ),
        state={"s": "mean_square"},
    )

    def __init__(
        self,
        learning_rate: float = 0.01,
        rho: float = 0.99,
        epsilon: float = 1e-8,
        clip_norm: float | None = None,
    ) -> None:
        super().__init__(learning_rate, clip_norm)
        self.rho = _check_fraction(self.type_name, "rho", rho)
        self.epsilon = _check_number(self.type_name, "epsilon", epsilon)
        self.mean_square: np.ndarray | None = None

    def _allocate(self, params: np.ndarray) -> None:
        super()._allocate(params)
        self.mean_square = np.zeros_like(params)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        s, step = self.mean_square, self._scratch
        s *= self.rho
        np.multiply(grads, 1 - self.rho, out=step)  # ((1 - ρ) g) g: addcmul's order
        step *= grads
        s += step
        np.sqrt(s, out=step)
        step += self.epsilon
        np.divide(grads, step, out=step)
        step *= self.learning_rate
        params -= step

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction, PyTorch's form:

        m ← β₁ m + (1 - β₁) g
        v ← β₂ v + (1 - β₂) g²
        m̂ = m / (1 - β₁ᵗ),   v̂ = v / (1 - β₂ᵗ)
        θ ← θ - η m̂ / (√v̂ + ε)      ε = 1e-8, added to √v̂ (after bias correction)

    Computed in ten whole-buffer passes instead of thirteen (with Numba, one compiled pass
    of the same operations, ``chainrule.nn.kernels.adam_update``): the buffers hold the
    moments without their (1 - β) factors, M = m / (1 - β₁) and V = v / (1 - β₂), so that

        M ← β₁ M + g,    V ← β₂ V + g²
        θ ← θ - α M / (√V + ε / s)    with s = √((1 - β₂) / (1 - β₂ᵗ)),
                                        α = η (1 - β₁) / ((1 - β₁ᵗ) s)

    which is the same expression with every constant folded into two scalars (equal to
    PyTorch's to rounding: ~1e-16 relative in float64). ``m`` and ``v`` give the moments as
    the formulas above define them.
    """

    type_name = "adam"
    STATE = ("scaled_m", "scaled_v")
    #: The textbook form, with m and v as defined above (the ``m`` and ``v`` properties).
    math = OptimizerMath(
        name="Adam",
        short_name="Adam",
        symbols={"learning_rate": ETA, "beta1": BETA1, "beta2": BETA2, "epsilon": EPSILON},
        rules=(
            UpdateRule(
                "m",
                lambda m, g, beta1: beta1 * m + (1 - beta1) * g,
                r"\beta_1 m + (1 - \beta_1)\, g",
                "first moment (this m is not the batch size)",
            ),
            UpdateRule(
                "v",
                lambda v, g, beta2: beta2 * v + (1 - beta2) * g**2,
                r"\beta_2 v + (1 - \beta_2)\, g \odot g",
                "second moment; both start at 0",
            ),
            UpdateRule(
                "m_hat",
                lambda m, beta1, t: m / (1 - beta1**t),
                r"m/(1 - \beta_1^t)",
                "bias corrections; t = 1, 2, … counts steps",
                relation="=",
            ),
            UpdateRule(
                "v_hat", lambda v, beta2, t: v / (1 - beta2**t), r"v/(1 - \beta_2^t)", relation="="
            ),
            UpdateRule(
                "θ",
                lambda theta, m_hat, v_hat, learning_rate, epsilon: (
                    theta - learning_rate * (m_hat / (sqrt(v_hat) + epsilon))
                ),
                r"\theta - \eta\, \hat{m} \oslash (\sqrt{\hat{v}} + \epsilon)",
                r"$\epsilon$ added to $\sqrt{\hat{v}}$",
            ),
        ),
        state={"m": "m", "v": "v"},
        worked=(
            Notation(
                "m(θ) ← β1*m(θ) + (1 - β1)*g,  v(θ) ← β2*v(θ) + (1 - β2)*g^2,  g = dL/dθ",
                r"m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad v \leftarrow \beta_2 v + "
                r"(1 - \beta_2) g^2, \quad g = \frac{{\partial L}}{{\partial \theta}}",
            ),
            Notation(
                "m_hat = m / (1 - β1^t),  v_hat = v / (1 - β2^t),  θ ← θ - η*m_hat / "
                "(sqrt(v_hat) + ε)",
                r"\hat m = \frac{{m}}{{1 - \beta_1^t}}, \quad "
                r"\hat v = \frac{{v}}{{1 - \beta_2^t}}, \quad \theta \leftarrow \theta - \eta \frac{{\hat m}}{{\sqrt{{\hat v}} + "
                r"\varepsilon}}",
            ),
            Notation(
                "η = {learning_rate}, β1 = {beta1}, β2 = {beta2}, ε = {epsilon}; "
                "m and v start at 0 (PyTorch's form)",
                r"\eta = {learning_rate}, \beta_1 = {beta1}, \beta_2 = {beta2}, \varepsilon = "
                r"{epsilon}",
            ),
        ),
    )

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        clip_norm: float | None = None,
    ) -> None:
        super().__init__(learning_rate, clip_norm)
        self.beta1 = _check_fraction(self.type_name, "beta1", beta1)
        self.beta2 = _check_fraction(self.type_name, "beta2", beta2)
        self.epsilon = _check_number(self.type_name, "epsilon", epsilon)
        self.scaled_m: np.ndarray | None = None
        self.scaled_v: np.ndarray | None = None

    @property
    def m(self) -> np.ndarray | None:
        """The first moment m = (1 - β₁) M."""
        return None if self.scaled_m is None else self.scaled_m * (1 - self.beta1)

    @property
    def v(self) -> np.ndarray | None:
        """The second moment v = (1 - β₂) V."""
        return None if self.scaled_v is None else self.scaled_v * (1 - self.beta2)

    def _allocate(self, params: np.ndarray) -> None:
        super()._allocate(params)
        self.scaled_m = np.zeros_like(params)
        self.scaled_v = np.zeros_like(params)

    def kernels_used(self) -> tuple[str, ...]:
        return ("adam_update", *super().kernels_used())

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        self._decay_weights(params)
        t = self.iterations
        s = math.sqrt((1 - self.beta2) / (1 - self.beta2**t))
        alpha = self.learning_rate * (1 - self.beta1) / ((1 - self.beta1**t) * s)
        big_m, big_v, step = self.scaled_m, self.scaled_v, self._scratch
        # the ten passes below in one compiled pass, equal to the bit
        if kernels.enabled() and params.dtype in kernels.DTYPES:
            kernels.adam_update(params, grads, big_m, big_v, self.beta1, self.beta2, alpha,
                                self.epsilon / s)  # fmt: skip
            return
        big_m *= self.beta1
        big_m += grads
        np.multiply(grads, grads, out=step)
        big_v *= self.beta2
        big_v += step
        np.sqrt(big_v, out=step)
        step += self.epsilon / s
        np.divide(big_m, step, out=step)
        step *= alpha
        params -= step

    def _decay_weights(self, params: np.ndarray) -> None:
        """Plain Adam has no decoupled decay (L2 goes through the loss instead)."""

    def hyperparameters(self) -> dict[str, Any]:
        return {
            **super().hyperparameters(),
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
        }


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with weight decay decoupled from the gradient.

        θ ← θ (1 - η λ)         first, PyTorch's order; λ = ``weight_decay`` (default 0.01)
        then the Adam step above.

    Unlike L2 in the loss, this decay does not pass through m and v, so it is not rescaled by
    the adaptive denominator. It applies to every parameter in the buffer, biases included, as
    ``torch.optim.AdamW`` does over one parameter group.
    """

    type_name = "adamw"
    math = OptimizerMath(
        name="AdamW",
        short_name="AdamW",
        symbols={**Adam.math.symbols, "weight_decay": LAMBDA_W},
        rules=(
            UpdateRule(
                "θ",
                lambda theta, learning_rate, weight_decay: (
                    theta * (1 - learning_rate * weight_decay)
                ),
                r"\theta\,(1 - \eta \lambda_w)",
                "decoupled weight decay, first; biases too",
            ),
            *Adam.math.rules,
        ),
        state=Adam.math.state,
    )

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.01,
        clip_norm: float | None = None,
    ) -> None:
        super().__init__(learning_rate, beta1, beta2, epsilon, clip_norm)
        self.weight_decay = _check_number(self.type_name, "weight_decay", weight_decay, zero=True)

    def _decay_weights(self, params: np.ndarray) -> None:
        params *= 1 - self.learning_rate * self.weight_decay

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "weight_decay": self.weight_decay}


def _check_number(optimizer: str, argument: str, value: Any, zero: bool = False) -> float:
    return check_number(value, argument, minimum=0, strict=not zero, where=optimizer)


def _check_fraction(optimizer: str, argument: str, value: Any) -> float:
    return check_number(value, argument, minimum=0, maximum=1, strict_maximum=True, where=optimizer)


OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")
OPTIMIZERS.register("sgd", SGD, aliases=("gd",))
OPTIMIZERS.register("momentum", Momentum)
OPTIMIZERS.register("classic_momentum", ClassicMomentum)
OPTIMIZERS.register("nesterov", Nesterov)
OPTIMIZERS.register("adagrad", AdaGrad)
OPTIMIZERS.register("rmsprop", RMSProp)
OPTIMIZERS.register("adam", Adam)
OPTIMIZERS.register("adamw", AdamW)


def get_optimizer(spec: str | dict[str, Any] | Optimizer, **defaults: Any) -> Optimizer:
    """Resolve ``"adam"`` or ``{"name": "momentum", "learning_rate": 0.02}`` or an instance."""
    if isinstance(spec, Optimizer):
        return spec
    return OPTIMIZERS.create(spec, **defaults)
