"""Losses: values counted by hand, gradients against central differences, and the errors a user
can trigger.

Every loss here is used the same way: ``loss.value(output, target)`` is a float and
``loss.gradient(output, target)`` is dL/d(output), shaped like the output. The hand-computed
cases below write every term out, so they double as worked examples of each formula.
"""

import math
import warnings

import numpy as np
import pytest

from chainrule.nn.gradcheck import numerical_gradient, relative_error
from chainrule.nn.layers import Identity, ReLU, Sigmoid, Softmax
from chainrule.nn.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    L2Penalty,
    MeanSquaredError,
    get_loss,
)

# Shapes (m examples, k outputs) for the gradient checks; batch size 1 included on purpose.
SHAPES = [(1, 1), (1, 4), (3, 1), (5, 3), (8, 10)]


def shape_id(shape):
    return f"m{shape[0]}xk{shape[1]}"


def check_gradient(loss, output, target):
    """Relative error between ``loss.gradient`` and central differences of ``loss.value``."""
    analytic = loss.gradient(output, target)
    numeric = numerical_gradient(lambda: loss.value(output, target), output)
    assert analytic.shape == output.shape
    return relative_error(analytic, numeric)


def probabilities(rng, shape, low=0.05, high=0.95):
    """Probabilities kept away from 0 and 1, where the clipping would kick in."""
    return rng.uniform(low, high, size=shape)


def softmax_by_hand(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid_by_hand(z):
    return 1.0 / (1.0 + np.exp(-z))


# -- values counted by hand ---------------------------------------------------------------

# a - y = [[1, 0], [-2, 1]], so Σ (a - y)² = 1 + 0 + 4 + 1 = 6 over m = 2 examples, k = 2 outputs.
MSE_OUTPUT = np.array([[1.0, 2.0], [3.0, 4.0]])
MSE_TARGET = np.array([[0.0, 2.0], [5.0, 3.0]])


@pytest.mark.parametrize(
    ("reduction", "expected_value", "expected_gradient"),
    [
        # 6 / (m k) = 6 / 4;   2 (a - y) / 4
        ("mean", 1.5, [[0.5, 0.0], [-1.0, 0.5]]),
        # 6 / m = 6 / 2;       2 (a - y) / 2
        ("sum", 3.0, [[1.0, 0.0], [-2.0, 1.0]]),
        # ½ · 6 / 2;           (a - y) / 2
        ("half_sum", 1.5, [[0.5, 0.0], [-1.0, 0.5]]),
    ],
)
def test_mse_value_and_gradient_by_hand(reduction, expected_value, expected_gradient):
    """The three squared-error conventions differ only in their constant factor."""
    loss = MeanSquaredError(reduction)
    assert loss.value(MSE_OUTPUT, MSE_TARGET) == pytest.approx(expected_value, rel=1e-15)
    np.testing.assert_allclose(loss.gradient(MSE_OUTPUT, MSE_TARGET), expected_gradient)


def test_bce_on_probabilities_by_hand():
    """-[y log a + (1-y) log(1-a)], averaged over all m k = 4 entries."""
    a = np.array([[0.5, 0.8], [0.1, 0.6]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    # y = 1 picks -log a, y = 0 picks -log(1 - a).
    expected = (-math.log(0.5) - math.log(0.2) - math.log(0.9) - math.log(0.6)) / 4
    assert BinaryCrossEntropy().value(a, y) == pytest.approx(expected, rel=1e-14)
    # dL/da = (a - y) / (a (1 - a)) / 4, entry by entry.
    expected_gradient = [
        [(0.5 - 1) / (0.5 * 0.5) / 4, (0.8 - 0) / (0.8 * 0.2) / 4],
        [(0.1 - 0) / (0.1 * 0.9) / 4, (0.6 - 1) / (0.6 * 0.4) / 4],
    ]
    np.testing.assert_allclose(BinaryCrossEntropy().gradient(a, y), expected_gradient)


def test_bce_from_logits_by_hand():
    """From logits: -log σ(z) = log(1 + e^-z) for y = 1, -log(1 - σ(z)) = log(1 + e^z) for y = 0."""
    z = np.array([[0.0, 2.0], [-1.0, 3.0]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    expected = (
        math.log(1 + math.exp(-0.0))
        + math.log(1 + math.exp(2.0))
        + math.log(1 + math.exp(-1.0))
        + math.log(1 + math.exp(-3.0))
    ) / 4
    assert BinaryCrossEntropy(from_logits=True).value(z, y) == pytest.approx(expected, rel=1e-14)


def test_cce_on_probabilities_by_hand():
    """-Σ y log a / m: only the probability of the true class counts."""
    a = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    labels = np.array([0, 2])
    expected = -(math.log(0.7) + math.log(0.6)) / 2
    assert CategoricalCrossEntropy().value(a, labels) == pytest.approx(expected, rel=1e-14)
    # dL/da = -y / a / m: nonzero only at the true class.
    expected_gradient = [[-1 / 0.7 / 2, 0, 0], [0, 0, -1 / 0.6 / 2]]
    np.testing.assert_allclose(CategoricalCrossEntropy().gradient(a, labels), expected_gradient)


def test_cce_from_logits_by_hand():
    """From logits: log Σ_j e^(z_j) - z_label, averaged over the batch."""
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    labels = np.array([2, 1])
    row_1 = math.log(math.e**1 + math.e**2 + math.e**3) - 3.0
    row_2 = math.log(3.0) - 0.0  # three equal logits: probability 1/3 each
    expected = (row_1 + row_2) / 2
    loss = CategoricalCrossEntropy(from_logits=True)
    assert loss.value(z, labels) == pytest.approx(expected, rel=1e-14)


def test_l2_penalty_by_hand():
    """(λ/2) Σ W² as the value, λ W added to the gradient buffer in place."""
    weights = np.array([1.0, -2.0, 3.0])
    penalty = L2Penalty(0.1)
    assert penalty.value(weights) == pytest.approx(0.5 * 0.1 * (1 + 4 + 9), rel=1e-15)
    grads = np.array([0.5, 0.5, 0.5])
    penalty.add_gradient(weights, grads)
    np.testing.assert_allclose(grads, [0.5 + 0.1, 0.5 - 0.2, 0.5 + 0.3])


def test_l2_penalty_of_strength_zero_is_inert():
    """l2=0 (the default) costs nothing and leaves the gradients untouched."""
    weights = np.array([1.0, -2.0])
    grads = np.array([0.25, 0.75])
    penalty = L2Penalty(0)
    penalty.add_gradient(weights, grads)
    assert penalty.value(weights) == 0.0
    np.testing.assert_array_equal(grads, [0.25, 0.75])


# -- gradients against central differences ------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("reduction", MeanSquaredError.REDUCTIONS)
def test_mse_gradient_matches_central_differences(reduction, shape):
    rng = np.random.default_rng(1)
    output, target = rng.normal(size=shape), rng.normal(size=shape)
    assert check_gradient(MeanSquaredError(reduction), output, target) < 1e-6


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
def test_bce_gradient_matches_central_differences(from_logits, shape):
    rng = np.random.default_rng(2)
    output = rng.normal(0, 2, size=shape) if from_logits else probabilities(rng, shape)
    target = rng.uniform(0, 1, size=shape)  # soft targets are allowed too
    assert check_gradient(BinaryCrossEntropy(from_logits), output, target) < 1e-6


@pytest.mark.parametrize("shape", [s for s in SHAPES if s[1] > 1], ids=shape_id)
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
def test_cce_gradient_matches_central_differences(from_logits, shape):
    rng = np.random.default_rng(3)
    output = rng.normal(0, 2, size=shape) if from_logits else probabilities(rng, shape)
    labels = rng.integers(0, shape[1], size=shape[0])
    loss = CategoricalCrossEntropy(from_logits)
    assert check_gradient(loss, output, labels) < 1e-6
    soft_target = softmax_by_hand(rng.normal(size=shape))  # probability rows, not one-hot
    assert check_gradient(loss, output, soft_target) < 1e-6


def test_l2_penalty_gradient_matches_central_differences():
    rng = np.random.default_rng(4)
    weights = rng.normal(size=7)
    penalty = L2Penalty(0.3)
    grads = np.zeros_like(weights)
    penalty.add_gradient(weights, grads)
    numeric = numerical_gradient(lambda: penalty.value(weights), weights)
    assert relative_error(grads, numeric) < 1e-6


# -- target forms ---------------------------------------------------------------------------


@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
def test_cce_integer_labels_and_one_hot_rows_agree(from_logits):
    """Class labels (m,) and one-hot rows (m, k) are two spellings of the same target."""
    rng = np.random.default_rng(5)
    z = rng.normal(size=(6, 4))
    output = z if from_logits else softmax_by_hand(z)
    labels = np.array([0, 3, 1, 1, 2, 0])
    one_hot = np.eye(4)[labels]
    loss = CategoricalCrossEntropy(from_logits)
    assert loss.value(output, labels) == pytest.approx(loss.value(output, one_hot), rel=1e-14)
    np.testing.assert_allclose(loss.gradient(output, labels), loss.gradient(output, one_hot))


def test_cce_accepts_whole_valued_float_labels():
    """Labels read from a float array (e.g. a CSV column) still count as class indices."""
    z = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]])
    loss = CategoricalCrossEntropy(from_logits=True)
    assert loss.value(z, np.array([2.0, 0.0])) == loss.value(z, np.array([2, 0]))


@pytest.mark.parametrize(
    "loss",
    [MeanSquaredError(), BinaryCrossEntropy(), BinaryCrossEntropy(from_logits=True)],
    ids=repr,
)
def test_single_output_losses_accept_a_label_vector(loss):
    """For one output unit, y of shape (m,) means the same as y of shape (m, 1)."""
    output = np.array([[0.2], [0.7], [0.9]])
    column = np.array([[0.0], [1.0], [1.0]])
    vector = np.array([0, 1, 1])
    assert loss.value(output, vector) == loss.value(output, column)
    np.testing.assert_array_equal(loss.gradient(output, vector), loss.gradient(output, column))


def test_mse_turns_integer_labels_into_one_hot_targets():
    """MSE on a multi-output network accepts class labels, as in Nielsen's MNIST network."""
    output = np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1]])
    loss = MeanSquaredError("half_sum")
    labels = np.array([1, 0])
    assert loss.value(output, labels) == loss.value(output, np.eye(3)[labels])


# -- fused forms ----------------------------------------------------------------------------


@pytest.mark.parametrize("m", [1, 7])
def test_cce_from_logits_gradient_is_softmax_minus_one_hot(m):
    """The fused softmax + cross-entropy gradient is (softmax(z) - y) / m, exactly."""
    rng = np.random.default_rng(6)
    z = rng.normal(0, 3, size=(m, 5))
    labels = rng.integers(0, 5, size=m)
    expected = (softmax_by_hand(z) - np.eye(5)[labels]) / m
    gradient = CategoricalCrossEntropy(from_logits=True).gradient(z, labels)
    np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shape", [(1, 1), (6, 3)])
def test_bce_from_logits_gradient_is_sigmoid_minus_target(shape):
    """The fused sigmoid + binary cross-entropy gradient is (σ(z) - y) / (m k)."""
    rng = np.random.default_rng(7)
    z = rng.normal(0, 3, size=shape)
    y = rng.integers(0, 2, size=shape).astype(float)
    m, k = shape
    expected = (sigmoid_by_hand(z) - y) / (m * k)
    gradient = BinaryCrossEntropy(from_logits=True).gradient(z, y)
    np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-15)


def test_fused_values_equal_unfused_values_for_moderate_logits():
    """From logits or from probabilities, the loss is the same number (up to rounding)."""
    rng = np.random.default_rng(8)
    z = rng.normal(0, 3, size=(5, 4))
    labels = rng.integers(0, 4, size=5)
    y = rng.integers(0, 2, size=(5, 4)).astype(float)
    fused_cce = CategoricalCrossEntropy(from_logits=True).value(z, labels)
    assert fused_cce == pytest.approx(
        CategoricalCrossEntropy().value(softmax_by_hand(z), labels), rel=1e-12
    )
    fused_bce = BinaryCrossEntropy(from_logits=True).value(z, y)
    assert fused_bce == pytest.approx(BinaryCrossEntropy().value(sigmoid_by_hand(z), y), rel=1e-12)


@pytest.mark.parametrize(
    ("loss", "activate", "target"),
    [
        (CategoricalCrossEntropy(from_logits=True), softmax_by_hand, np.array([2, 0, 1, 3, 1])),
        (CategoricalCrossEntropy(from_logits=True), softmax_by_hand, np.eye(4)[[0, 3, 1, 1, 2]]),
        (BinaryCrossEntropy(from_logits=True), sigmoid_by_hand, np.eye(4)[[0, 3, 1, 1, 2]]),
    ],
    ids=["cce-labels", "cce-one-hot", "bce"],
)
def test_value_and_gradient_together_are_the_two_calls(loss, activate, target):
    """A training step asks for both at once (the target checked once): the same numbers."""
    z = np.random.default_rng(9).normal(0, 3, size=(5, 4))
    a = activate(z)
    value, gradient = loss.value_and_gradient_from_activation(a, z, target)
    assert value == loss.value_from_activation(a, z, target)
    np.testing.assert_array_equal(gradient, loss.gradient_from_activation(a, target))
    with pytest.raises(ValueError, match="shape"):
        loss.value_and_gradient_from_activation(a, z, np.zeros((5, 3)))


# -- numerical stability -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        (CategoricalCrossEntropy(from_logits=True), np.array([1, 0])),
        (CategoricalCrossEntropy(from_logits=True), np.array([[0.0, 1.0], [1.0, 0.0]])),
        (BinaryCrossEntropy(from_logits=True), np.array([[0.0, 1.0], [1.0, 0.0]])),
    ],
    ids=["cce-labels", "cce-one-hot", "bce"],
)
def test_huge_logits_give_finite_values_without_warnings(loss, target):
    """Logits of ±1e4 (a diverging network) must not overflow into inf or nan."""
    z = np.array([[1e4, -1e4], [1e4, -1e4]])  # confidently wrong for every target above
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.value(z, target)
        gradient = loss.gradient(z, target)
    assert np.isfinite(value)
    assert value > 1e3  # wrong by 2e4 logits: a large loss, not a clipped one
    assert np.all(np.isfinite(gradient))


def test_bce_on_probabilities_exactly_zero_and_one_is_finite():
    """A saturated sigmoid (a = 0 or 1) gives a large finite loss: log is floored at -100."""
    a = np.array([[0.0], [1.0], [1.0], [0.0]])
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = BinaryCrossEntropy().value(a, y)
        gradient = BinaryCrossEntropy().gradient(a, y)
    # two terms are -log 0 -> 100, two are -log 1 = 0; mean over 4
    assert value == pytest.approx(50.0)
    assert np.all(np.isfinite(gradient))


def test_cce_on_probabilities_exactly_zero_and_one_is_finite():
    """A probability of 0 for the true class gives loss 100 per example, not inf."""
    a = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    labels = np.array([1, 1])  # first row wrong with certainty, second right with certainty
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = CategoricalCrossEntropy().value(a, labels)
        gradient = CategoricalCrossEntropy().gradient(a, labels)
    assert value == pytest.approx((100.0 + 0.0) / 2)
    assert np.all(np.isfinite(gradient))


# -- errors a user can trigger ------------------------------------------------------------


@pytest.mark.parametrize("bad_label", [3, -1])
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
def test_label_outside_the_class_range_is_named(from_logits, bad_label):
    output = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match=rf"label {bad_label} is outside the class range 0\.\.2"):
        CategoricalCrossEntropy(from_logits).value(output, np.array([0, bad_label]))


def test_mse_label_outside_the_class_range_is_named():
    with pytest.raises(ValueError, match=r"label 5 is outside the class range 0\.\.2"):
        MeanSquaredError().value(np.zeros((2, 3)), np.array([0, 5]))


def test_cce_rejects_fractional_labels():
    with pytest.raises(ValueError, match="class labels must be integers"):
        CategoricalCrossEntropy().value(np.full((2, 3), 1 / 3), np.array([0.5, 1.0]))


def test_cce_rejects_one_label_too_few():
    with pytest.raises(ValueError, match="got 2 labels for 3 examples"):
        CategoricalCrossEntropy().value(np.full((3, 3), 1 / 3), np.array([0, 1]))


@pytest.mark.parametrize(
    "loss",
    [
        MeanSquaredError(),
        BinaryCrossEntropy(),
        CategoricalCrossEntropy(),
        CategoricalCrossEntropy(from_logits=True),
    ],
    ids=repr,
)
def test_wrong_target_shape_names_both_shapes(loss):
    output = np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match=r"target shape \(2, 4\) does not match .*\(2, 3\)"):
        loss.value(output, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"target shape \(2, 4\) does not match .*\(2, 3\)"):
        loss.gradient(output, np.zeros((2, 4)))


@pytest.mark.parametrize("bad", [1.5, -0.5])
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
def test_bce_targets_outside_zero_one_are_rejected(from_logits, bad):
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        BinaryCrossEntropy(from_logits).value(np.array([[0.5], [0.5]]), np.array([[1.0], [bad]]))


def test_string_targets_are_rejected():
    with pytest.raises(ValueError, match="targets must be numbers"):
        MeanSquaredError().value(np.zeros((2, 1)), np.array(["a", "b"]))


def test_unknown_loss_name_lists_the_valid_ones():
    with pytest.raises(
        ValueError, match=r"unknown loss 'nope'.*mse, binary_crossentropy, categorical_crossentropy"
    ):
        get_loss("nope")


def test_get_loss_resolves_names_aliases_and_mappings():
    """Recipes name losses by string or by mapping; instances pass through unchanged."""
    assert isinstance(get_loss("cross_entropy"), CategoricalCrossEntropy)
    assert isinstance(get_loss("BCE"), BinaryCrossEntropy)
    assert get_loss({"name": "mse", "reduction": "half_sum"}).reduction == "half_sum"
    instance = MeanSquaredError("sum")
    assert get_loss(instance) is instance


def test_bad_mse_reduction_lists_the_valid_ones():
    with pytest.raises(ValueError, match="reduction must be one of mean, sum, half_sum, got 'max'"):
        MeanSquaredError("max")


@pytest.mark.parametrize("strength", [-0.1, True, "0.1"])
def test_bad_l2_strength_is_rejected(strength):
    with pytest.raises(ValueError, match="l2: the strength must be a number >= 0"):
        L2Penalty(strength)


# -- fusing with the output activation ---------------------------------------------------


def test_cce_fuses_only_with_softmax():
    """The model starts backprop at the logits only for the softmax + CCE pair."""
    fused = CategoricalCrossEntropy().fused_with(Softmax())
    assert isinstance(fused, CategoricalCrossEntropy) and fused.from_logits
    for other in (Sigmoid(), ReLU(), Identity()):
        assert CategoricalCrossEntropy().fused_with(other) is None
    # already from logits: there is no activation to fuse with
    assert CategoricalCrossEntropy(from_logits=True).fused_with(Softmax()) is None


def test_bce_fuses_only_with_sigmoid():
    fused = BinaryCrossEntropy().fused_with(Sigmoid())
    assert isinstance(fused, BinaryCrossEntropy) and fused.from_logits
    for other in (Softmax(), ReLU(), Identity()):
        assert BinaryCrossEntropy().fused_with(other) is None
    assert BinaryCrossEntropy(from_logits=True).fused_with(Sigmoid()) is None


def test_mse_never_fuses():
    for layer in (Softmax(), Sigmoid(), Identity()):
        assert MeanSquaredError().fused_with(layer) is None


# -- each loss's math description agrees with its code -----------------------------------------

DESCRIBED = [
    MeanSquaredError("mean"),
    MeanSquaredError("sum"),
    MeanSquaredError("half_sum"),
    BinaryCrossEntropy(),
    CategoricalCrossEntropy(),
]


@pytest.mark.parametrize("loss", DESCRIBED, ids=repr)
def test_the_per_example_description_gives_the_losss_value_and_gradient(loss):
    rng = np.random.default_rng(5)
    k = 3
    a = rng.uniform(0.05, 0.95, size=k)
    if isinstance(loss, CategoricalCrossEntropy):
        a /= a.sum()
        y = np.array([0.0, 1.0, 0.0])
    else:
        y = rng.uniform(0, 1, size=k)
    example = loss.math.example
    assert example.value(a, y) == pytest.approx(loss.value(a[None, :], y[None, :]), rel=1e-12)
    gradient = [example.gradient(a[j], y[j], k) for j in range(k)]
    np.testing.assert_allclose(gradient, loss.gradient(a[None, :], y[None, :])[0], rtol=1e-12)


@pytest.mark.parametrize(
    ("loss", "partner"), [(BinaryCrossEntropy(), Sigmoid()), (CategoricalCrossEntropy(), Softmax())]
)
def test_the_fused_description_gives_the_from_logits_gradient(loss, partner):
    z = np.array([[0.4, -1.1, 2.3]])
    y = np.array([[0.0, 0.0, 1.0]])
    a = partner.forward(z)[0]
    fused = loss.fused_with(partner)
    delta = [loss.math.fused.delta(a[j], y[0, j], 3) for j in range(3)]
    np.testing.assert_allclose(delta, fused.gradient(z, y)[0], rtol=1e-12)


def test_loss_descriptions_name_their_form():
    assert MeanSquaredError("sum").math.short_name == "MSE (sum)"
    assert BinaryCrossEntropy(from_logits=True).math.name == "binary cross-entropy from logits"
    assert BinaryCrossEntropy(from_logits=True).math.example is None  # not written out per example
    assert MeanSquaredError().math.fused is None
    assert CategoricalCrossEntropy().math.fused.pair == "softmax + CE"
