"""The gradients of a step, checked twice: against the engine's own backward pass (a float64
``Sequential`` holding the same weights, transposed to the engine's layout) and against
central differences of the engine's loss (``chainrule.nn.gradcheck``).
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.record import Block, Verification
from chainrule.explain.spec import ExplainSpec
from chainrule.nn.gradcheck import numerical_gradient, relative_error
from chainrule.nn.model import Sequential

#: Agreement required between this computation and the engine's backward pass (both
#: float64, same formulas, summed in a different order).
ENGINE_RTOL, ENGINE_ATOL = 1e-9, 1e-12
#: Agreement required with central differences (h = 1e-6): |analytic - numeric| <= atol + rtol|numeric|.
FD_STEP, FD_RTOL, FD_ATOL = 1e-6, 1e-5, 1e-8
#: A pre-activation this close to a kink (ReLU, leaky ReLU at 0) is on it for the check: the
#: central differences (step FD_STEP) straddle it.
KINK_TOLERANCE = 10 * FD_STEP
#: Activations with a kink at z = 0.
KINKED = ("relu", "leaky_relu")


def verify(
    spec: ExplainSpec,
    W: list[np.ndarray],
    b: list[np.ndarray],
    loss: float,
    dW: list[np.ndarray],
    db: list[np.ndarray],
) -> Verification:
    """Compare with the engine's backward (float64 Sequential, W transposed) and with finite
    differences of the engine's loss."""
    model = spec.to_model(W, b)
    ours = {}
    for n in range(1, spec.n_layers + 1):
        ours[f"dense_{n}.W"] = dW[n - 1].T  # the engine stores W transposed
        ours[f"dense_{n}.b"] = db[n - 1]
    return check_gradients(model, spec.x(), spec.y(), ours, loss, kinks_hit(spec, W, b))


def check_gradients(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    ours: dict[str, np.ndarray],
    loss: float,
    kinks: list[str],
    input_gradient: np.ndarray | None = None,
) -> Verification:
    """``ours`` (engine parameter name -> gradient in the engine's layout) and ``loss`` against
    the model's own forward/backward, and against central differences of its loss; with
    ``input_gradient`` (dL/dx of the batch's first example) also that, perturbing ``x``."""
    output = model.forward(x, training=True)
    engine_loss = model.compute_loss(output, y).total
    model.backward(y)
    engine_difference = max(float(np.max(np.abs(model.grads[k] - v))) for k, v in ours.items())
    engine_passed = all(
        np.allclose(model.grads[k], v, rtol=ENGINE_RTOL, atol=ENGINE_ATOL) for k, v in ours.items()
    ) and np.isclose(engine_loss, loss, rtol=ENGINE_RTOL, atol=ENGINE_ATOL)

    def engine_loss_now() -> float:
        return model.compute_loss(model.forward(x), y).total

    fd_difference, fd_relative, fd_passed = 0.0, 0.0, True
    checks = [(analytic, model.params[key]) for key, analytic in ours.items()]
    if input_gradient is not None:
        checks.append((input_gradient[None], x))
    input_difference = None
    for analytic, array in checks:
        numeric = numerical_gradient(engine_loss_now, array, FD_STEP)
        fd_difference = max(fd_difference, float(np.max(np.abs(analytic - numeric))))
        fd_relative = max(fd_relative, relative_error(analytic, numeric))
        fd_passed &= bool(np.allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL))
        if array is x:
            input_difference = float(np.max(np.abs(analytic - numeric)))
    return Verification(
        engine_difference,
        abs(engine_loss - loss),
        fd_difference,
        fd_relative,
        bool(engine_passed),
        fd_passed,
        kinks,
        input_fd_max_difference=input_difference,
    )


def kinks_hit(spec: ExplainSpec, W: list[np.ndarray], b: list[np.ndarray]) -> list[str]:
    """Each pre-activation on a kink, ``"z1[2] = 0 (ReLU, example 1)"``: z_l = W_l a_(l-1) + b_l."""
    hits = []
    for example, x in enumerate(spec.x(), start=1):
        a = x
        for number, layer in enumerate(spec.layers, start=1):
            z = W[number - 1] @ a + b[number - 1]
            if layer.activation_name in KINKED:
                for j in np.flatnonzero(np.abs(z) <= KINK_TOLERANCE):
                    where = f", example {example}" if spec.n_examples > 1 else ""
                    value = 0.0 if abs(z[j]) < 1e-12 else z[j]  # 0.2*(-0.5) + 0.1 is 2.8e-17
                    hits.append(f"z{number}[{j + 1}] = {value:.2g} ({layer.math.name}{where})")
            a = layer.make_activation().forward(z[None, :], training=False)[0]
    return hits


def verification_block(result: Verification) -> Block:
    block = Block("Gradients of this step")
    verdict = {True: "agree", False: "DISAGREE"}
    block.notes.append(
        (
            f"Engine: a float64 chainrule.nn.model.Sequential with Dense layers holding W^T "
            f"(forward(training=True), backward) gives gradients that {verdict[result.engine_passed]}"
            f" with the ones above: max |difference| = {result.engine_max_difference:.1e}, "
            f"loss difference {result.engine_loss_difference:.1e} "
            f"(tolerance {ENGINE_ATOL:.0e} + {ENGINE_RTOL:.0e}*|value|).",
        )
    )
    block.notes.append(
        (
            f"Finite differences: central differences (h = {FD_STEP:.0e}) of the engine's loss, "
            f"chainrule.nn.gradcheck.numerical_gradient, {verdict[result.fd_passed]}: "
            f"max |difference| = {result.fd_max_difference:.1e}, max relative error "
            f"{result.fd_max_relative_error:.1e} (tolerance {FD_ATOL:.0e} + "
            f"{FD_RTOL:.0e}*|numeric|).",
        )
    )
    if result.kinks:
        block.notes.append(
            (
                f"On a kink: {', '.join(result.kinks)}. At z = 0 the derivative of ReLU and leaky "
                "ReLU is one-sided (the slope from the left, 1 from the right), so the gradient is "
                "not defined there; the engine takes the left one (ReLU'(0) = 0, leaky ReLU'(0) = "
                "its slope), and central differences straddle the kink and average the two sides. "
                "A disagreement here is the kink's, not a wrong gradient; move z off 0 (change a "
                "weight or a bias) for a well-defined exercise.",
            )
        )
    return block
