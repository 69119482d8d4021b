"""Backpropagation against an independent automatic differentiator (the ``autograd`` package).

Each case builds a small float64 network with ``chainrule.nn.model.Sequential``, runs
``forward(x, training=True)`` and ``backward(y)``, and compares every ``model.grads[name]`` with
autograd's gradient of the *same* loss, written again below in ``autograd.numpy`` from the
model's own weights (``model.params[name]``; Dense is z = x @ W + b with W of shape
(fan_in, fan_out)). Nothing of chainrule's math is reused on the reference side: activations
and losses are the textbook formulas, so an error in a hand-written backward cannot hide.

The cases cover every activation, every loss and reduction, the fused output pairs (softmax +
categorical cross-entropy, sigmoid + binary cross-entropy) next to their unfused forms, L2
with and without biases, and a batch of one.
"""

from collections.abc import Callable
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from chainrule.nn.layers import (
    Dense,
    Identity,
    ImprovedSigmoid,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.losses import BinaryCrossEntropy, CategoricalCrossEntropy
from chainrule.nn.model import Sequential

N_FEATURES = 4
RTOL, ATOL = 1e-7, 1e-10


def softmax_reference(z):
    e = anp.exp(z)  # logits stay moderate here, so no max-shift is needed
    return e / anp.sum(e, axis=1, keepdims=True)


# name -> (the chainrule layer, the same function written in autograd.numpy)
ACTIVATIONS: dict[str, tuple[Callable[[], object], Callable]] = {
    "identity": (Identity, lambda z: z),
    "relu": (ReLU, lambda z: anp.maximum(z, 0.0)),
    "leaky_relu": (lambda: LeakyReLU(slope=0.1), lambda z: anp.where(z > 0, z, 0.1 * z)),
    "sigmoid": (Sigmoid, lambda z: 1.0 / (1.0 + anp.exp(-z))),
    "tanh": (Tanh, anp.tanh),
    "improved_sigmoid": (ImprovedSigmoid, lambda z: 1.7159 * anp.tanh(2.0 * z / 3.0)),
    "softmax": (Softmax, softmax_reference),
}


# Reference losses, each on the network's output and a dense (m, k) target.
def mse_mean(a, y):
    return anp.mean((a - y) ** 2)


def mse_sum(a, y):
    return anp.sum((a - y) ** 2) / a.shape[0]


def mse_half_sum(a, y):
    return 0.5 * anp.sum((a - y) ** 2) / a.shape[0]


def bce_on_probabilities(a, y):
    return -anp.mean(y * anp.log(a) + (1 - y) * anp.log(1 - a))


def bce_on_logits(z, y):
    # -[y log σ(z) + (1 - y) log(1 - σ(z))] = log(1 + e^(-z)) + (1 - y) z
    return anp.mean(anp.log1p(anp.exp(-z)) + (1 - y) * z)


def cce_on_probabilities(a, y):
    return -anp.sum(y * anp.log(a)) / a.shape[0]


def cce_on_logits(z, y):
    return anp.sum(anp.log(anp.sum(anp.exp(z), axis=1)) - anp.sum(y * z, axis=1)) / z.shape[0]


@dataclass(frozen=True)
class Case:
    """A network, its loss, and the target form it is trained on.

    ``units`` are the widths of the Dense layers; ``hidden`` is the activation after every Dense
    but the last; ``output`` the layers after the last Dense.
    """

    units: tuple[int, ...]
    hidden: str
    output: tuple[str, ...]
    loss: object
    reference: Callable
    target: str  # "real", "binary", "binary_vector", "labels", "one_hot"
    l2: float = 0.0
    l2_biases: bool = False

    def layers(self):
        layers = []
        for position, units in enumerate(self.units):
            layers.append(Dense(units))
            if position < len(self.units) - 1:
                layers.append(ACTIVATIONS[self.hidden][0]())
        return layers + [ACTIVATIONS[name][0]() for name in self.output]


CASES = {
    # every activation as the hidden one, three Dense layers, regression with MSE
    **{
        f"hidden-{name}-mse": Case((5, 4, 3), name, (), "mse", mse_mean, "real")
        for name in ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "improved_sigmoid")
    },
    # output activations with MSE: never fused, so their own backward runs
    **{
        f"output-{name}-mse": Case((5, 3), "tanh", (name,), "mse", mse_mean, "real")
        for name in ("sigmoid", "tanh", "improved_sigmoid", "softmax")
    },
    # the three squared-error reductions
    "mse-mean": Case((5, 3), "tanh", (), {"name": "mse", "reduction": "mean"}, mse_mean, "real"),
    "mse-sum": Case((5, 3), "tanh", (), {"name": "mse", "reduction": "sum"}, mse_sum, "real"),
    "mse-half_sum": Case(
        (5, 3), "relu", (), {"name": "mse", "reduction": "half_sum"}, mse_half_sum, "real"
    ),
    # Nielsen's network: sigmoid outputs, quadratic cost, integer labels one-hot encoded
    "mse-sigmoid-labels": Case(
        (5, 3),
        "sigmoid",
        ("sigmoid",),
        {"name": "mse", "reduction": "half_sum"},
        mse_half_sum,
        "labels",
    ),
    # binary cross-entropy: fused with the final sigmoid, unfused (an Identity after the sigmoid
    # stops the fusion, so Sigmoid.backward meets dL/da), and from logits on a linear output
    "bce-fused": Case((5, 3), "tanh", ("sigmoid",), "bce", bce_on_probabilities, "binary"),
    "bce-unfused": Case(
        (5, 3), "tanh", ("sigmoid", "identity"), "bce", bce_on_probabilities, "binary"
    ),
    "bce-from-logits": Case(
        (5, 3), "tanh", (), BinaryCrossEntropy(from_logits=True), bce_on_logits, "binary"
    ),
    "bce-fused-one-unit-label-vector": Case(
        (5, 1), "relu", ("sigmoid",), "bce", bce_on_probabilities, "binary_vector"
    ),
    # categorical cross-entropy, the same three ways, on labels and on one-hot rows
    "cce-fused-labels": Case(
        (5, 4, 3), "relu", ("softmax",), "cce", cce_on_probabilities, "labels"
    ),
    "cce-fused-one-hot": Case(
        (5, 4, 3), "relu", ("softmax",), "cce", cce_on_probabilities, "one_hot"
    ),
    "cce-unfused-labels": Case(
        (5, 3), "tanh", ("softmax", "identity"), "cce", cce_on_probabilities, "labels"
    ),
    "cce-unfused-one-hot": Case(
        (5, 3), "tanh", ("softmax", "identity"), "cce", cce_on_probabilities, "one_hot"
    ),
    "cce-from-logits-labels": Case(
        (5, 3), "sigmoid", (), CategoricalCrossEntropy(from_logits=True), cce_on_logits, "labels"
    ),
    # L2: 0.5 · l2 · Σ W² over the weights, biases only when asked
    "l2-mse": Case((5, 4, 3), "tanh", (), "mse", mse_mean, "real", l2=0.1),
    "l2-mse-with-biases": Case(
        (5, 4, 3), "tanh", (), "mse", mse_mean, "real", l2=0.1, l2_biases=True
    ),
    "l2-cce-fused": Case(
        (5, 3), "relu", ("softmax",), "cce", cce_on_probabilities, "labels", l2=0.1
    ),
    "l2-bce-fused-with-biases": Case(
        (5, 2), "leaky_relu", ("sigmoid",), "bce", bce_on_probabilities, "binary", 0.1, True
    ),
}

BATCH_SIZES = [1, 6]


def build(case: Case, m: int, seed: int = 0):
    """The model with random weights and biases, an input batch, and the target two ways."""
    rng = np.random.default_rng(seed)
    model = Sequential(
        case.layers(),
        loss=case.loss,
        input_shape=(N_FEATURES,),
        l2=case.l2,
        l2_biases=case.l2_biases,
        dtype="float64",
        seed=seed,
    )
    for name, param in model.params.items():  # biases too, so their gradients are not trivial
        model.params[name] = rng.normal(0.0, 0.6, size=param.shape)
    x = rng.normal(size=(m, N_FEATURES))
    k = case.units[-1]
    if case.target == "real":
        y = rng.normal(size=(m, k))
        dense_y = y
    elif case.target == "binary":
        y = rng.integers(0, 2, size=(m, k)).astype(np.float64)
        dense_y = y
    elif case.target == "binary_vector":
        y = rng.integers(0, 2, size=m)
        dense_y = y.reshape(m, 1).astype(np.float64)
    else:
        labels = rng.integers(0, k, size=m)
        dense_y = np.eye(k)[labels]
        y = labels if case.target == "labels" else dense_y
    return model, x, y, dense_y


def reference_loss(case: Case, dense_y: np.ndarray):
    """The training loss as a function of (params, x), written in autograd.numpy."""
    n_dense = len(case.units)

    def loss(params, x):
        a = x
        for i in range(1, n_dense + 1):
            a = a @ params[f"dense_{i}.W"] + params[f"dense_{i}.b"]
            if i < n_dense:
                a = ACTIVATIONS[case.hidden][1](a)
        for name in case.output:
            a = ACTIVATIONS[name][1](a)
        penalty = 0.0
        for name, value in params.items():
            if name.endswith(".W") or case.l2_biases:
                penalty = penalty + 0.5 * case.l2 * anp.sum(value**2)
        return case.reference(a, dense_y) + penalty

    return loss


@pytest.mark.parametrize("m", BATCH_SIZES, ids=lambda m: f"m{m}")
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_parameter_gradients_match_autograd(case, m):
    """``model.grads[name]`` after ``backward(y)`` is dL/d(name) for every parameter."""
    model, x, y, dense_y = build(case, m)
    output = model.forward(x, training=True)
    assert model.backward(y) is None  # dL/dx only on request
    params = {name: np.array(value) for name, value in model.params.items()}
    loss = reference_loss(case, dense_y)
    expected = grad(loss, 0)(params, x)
    assert model.compute_loss(output, y).total == pytest.approx(loss(params, x), rel=1e-12)
    for name in params:
        np.testing.assert_allclose(
            model.grads[name], expected[name], rtol=RTOL, atol=ATOL, err_msg=name
        )


@pytest.mark.parametrize("m", BATCH_SIZES, ids=lambda m: f"m{m}")
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_input_gradient_matches_autograd(case, m):
    """``backward(y, input_grad=True)`` returns dL/dx, e.g. for saliency maps."""
    model, x, y, dense_y = build(case, m, seed=1)
    model.forward(x, training=True)
    dx = model.backward(y, input_grad=True)
    params = {name: np.array(value) for name, value in model.params.items()}
    expected = grad(reference_loss(case, dense_y), 1)(params, x)
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    ("output", "loss", "fused"),
    [
        (("softmax",), "cce", True),
        (("sigmoid",), "bce", True),
        (("softmax", "identity"), "cce", False),
        (("sigmoid", "identity"), "bce", False),
        (("sigmoid",), "mse", False),
    ],
    ids=["softmax-cce", "sigmoid-bce", "softmax-identity-cce", "sigmoid-identity-bce", "mse"],
)
def test_which_output_pairs_are_fused(output, loss, fused):
    """Only an output activation directly followed by its partner loss is fused, so the
    "unfused" cases above really exercise Softmax.backward and Sigmoid.backward."""
    model = Sequential(
        [Dense(3), *(ACTIVATIONS[name][0]() for name in output)],
        loss=loss,
        input_shape=(N_FEATURES,),
        dtype="float64",
    )
    assert ("fused with the output activation" in model.summary()) is fused


def test_backward_overwrites_instead_of_accumulating():
    """Two backward passes on the same batch leave the same gradients, not twice them."""
    model, x, y, _ = build(CASES["l2-cce-fused"], 6)
    model.forward(x, training=True)
    model.backward(y)
    first = model.params.grad_data.copy()
    model.forward(x, training=True)
    model.backward(y)
    np.testing.assert_array_equal(model.params.grad_data, first)
