"""Optimizers: the first steps of each rule worked out by hand, then the contract around them.

Every optimizer is used the same way: ``optimizer.step(params, grads)`` updates the flat float
buffer ``params`` in place from the matching ``grads``. The expected numbers below are computed
in the test from the formula in each optimizer's docstring, one line per equation, so each test
reads as a worked example of its rule.

The shared case: three parameters and a different gradient at each of three steps.
"""

import numpy as np
import pytest

from chainrule.nn.optim import (
    OPTIMIZERS,
    SGD,
    AdaGrad,
    Adam,
    AdamW,
    ClassicMomentum,
    Momentum,
    Nesterov,
    Optimizer,
    RMSProp,
    get_optimizer,
)

THETA_0 = [1.0, -2.0, 0.5]
G1 = np.array([0.1, -0.2, 0.3])
G2 = np.array([-0.4, 0.5, 0.6])
G3 = np.array([0.2, 0.2, -0.1])
GRADIENTS = [G1, G2, G3]

# One of each rule, with non-default hyperparameters where that makes the arithmetic clearer.
ALL_OPTIMIZERS = {
    "sgd": lambda: SGD(learning_rate=0.1),
    "momentum": lambda: Momentum(learning_rate=0.1, momentum=0.9),
    "classic_momentum": lambda: ClassicMomentum(learning_rate=0.1, momentum=0.9),
    "nesterov": lambda: Nesterov(learning_rate=0.1, momentum=0.9),
    "adagrad": lambda: AdaGrad(learning_rate=0.1),
    "rmsprop": lambda: RMSProp(learning_rate=0.01, rho=0.9),
    "adam": lambda: Adam(learning_rate=0.1),
    "adamw": lambda: AdamW(learning_rate=0.1, weight_decay=0.1),
}


def run_steps(optimizer: Optimizer, gradients, dtype=np.float64):
    """The parameters after each step, starting from THETA_0."""
    params = np.array(THETA_0, dtype=dtype)
    trajectory = []
    for g in gradients:
        optimizer.step(params, np.asarray(g, dtype=dtype))
        trajectory.append(params.copy())
    return trajectory


def assert_trajectory(optimizer, expected, rtol=1e-12):
    actual = run_steps(optimizer, GRADIENTS[: len(expected)])
    for step, (got, want) in enumerate(zip(actual, expected, strict=True), start=1):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-15, err_msg=f"step {step}")


# -- the first steps, by hand ---------------------------------------------------------------


def test_sgd_steps_by_hand():
    """θ ← θ - η g with η = 0.1."""
    assert_trajectory(
        SGD(learning_rate=0.1),
        [
            [1.0 - 0.01, -2.0 + 0.02, 0.5 - 0.03],  # θ0 - 0.1 g1
            [0.99 + 0.04, -1.98 - 0.05, 0.47 - 0.06],  # θ1 - 0.1 g2
            [1.03 - 0.02, -2.03 - 0.02, 0.41 + 0.01],  # θ2 - 0.1 g3
        ],
    )


def test_gd_is_sgd():
    """ "gd" and "sgd" are one rule; batching is the trainer's business."""
    optimizer = get_optimizer({"name": "gd", "learning_rate": 0.1})
    assert type(optimizer) is SGD
    assert_trajectory(optimizer, [[0.99, -1.98, 0.47]])


def test_momentum_steps_by_hand():
    """v ← μ v + g;  θ ← θ - η v   with η = 0.1, μ = 0.9 (PyTorch's form, v₁ = g₁)."""
    # v1 = g1                      = [ 0.1,   -0.2,   0.3  ]
    # θ1 = θ0 - 0.1 v1             = [ 0.99,  -1.98,  0.47 ]
    # v2 = 0.9 v1 + g2             = [ 0.09 - 0.4, -0.18 + 0.5, 0.27 + 0.6] = [-0.31, 0.32, 0.87]
    # θ2 = θ1 - 0.1 v2             = [ 1.021, -2.012, 0.383]
    # v3 = 0.9 v2 + g3             = [-0.279 + 0.2, 0.288 + 0.2, 0.783 - 0.1]
    #                              = [-0.079, 0.488, 0.683]
    # θ3 = θ2 - 0.1 v3             = [ 1.0289, -2.0608, 0.3147]
    assert_trajectory(
        Momentum(learning_rate=0.1, momentum=0.9),
        [[0.99, -1.98, 0.47], [1.021, -2.012, 0.383], [1.0289, -2.0608, 0.3147]],
    )


def test_nesterov_steps_by_hand():
    """v ← μ v + g;  θ ← θ - η (g + μ v)   with η = 0.1, μ = 0.9: the look-ahead step."""
    # v1 = g1 = [0.1, -0.2, 0.3];   g1 + 0.9 v1 = 1.9 g1        = [ 0.19,  -0.38,  0.57 ]
    # θ1 = θ0 - 0.1 · that                                      = [ 0.981, -1.962, 0.443]
    # v2 = [-0.31, 0.32, 0.87];     g2 + 0.9 v2                 = [-0.679,  0.788, 1.383]
    # θ2 = θ1 - 0.1 · that                                      = [ 1.0489, -2.0408, 0.3047]
    # v3 = [-0.079, 0.488, 0.683];  g3 + 0.9 v3                 = [ 0.1289, 0.6392, 0.5147]
    # θ3 = θ2 - 0.1 · that                                      = [ 1.03601, -2.10472, 0.25323]
    assert_trajectory(
        Nesterov(learning_rate=0.1, momentum=0.9),
        [[0.981, -1.962, 0.443], [1.0489, -2.0408, 0.3047], [1.03601, -2.10472, 0.25323]],
    )


def test_adagrad_steps_by_hand():
    """s ← s + g²;  θ ← θ - η g / (√s + ε)   with η = 0.1, ε = 1e-10."""
    eta, eps = 0.1, 1e-10
    theta_0 = np.array(THETA_0)
    # Step 1: s1 = g1² = [0.01, 0.04, 0.09], √s1 = |g1| = [0.1, 0.2, 0.3], so the first step
    # is η · sign(g1) (up to ε): every parameter moves by exactly η, whatever its gradient.
    s1 = np.array([0.01, 0.04, 0.09])
    theta_1 = theta_0 - eta * G1 / (np.array([0.1, 0.2, 0.3]) + eps)
    np.testing.assert_allclose(theta_1, [0.9, -1.9, 0.4], rtol=1e-9)
    # Step 2: s2 = s1 + g2² = [0.01 + 0.16, 0.04 + 0.25, 0.09 + 0.36]
    s2 = s1 + np.array([0.16, 0.25, 0.36])
    theta_2 = theta_1 - eta * G2 / (np.sqrt(s2) + eps)
    # Step 3: s3 = s2 + g3² = s2 + [0.04, 0.04, 0.01]
    s3 = s2 + np.array([0.04, 0.04, 0.01])
    theta_3 = theta_2 - eta * G3 / (np.sqrt(s3) + eps)
    assert_trajectory(AdaGrad(learning_rate=0.1), [theta_1, theta_2, theta_3])


def test_rmsprop_steps_by_hand():
    """s ← ρ s + (1 - ρ) g²;  θ ← θ - η g / (√s + ε)   with η = 0.01, ρ = 0.9, ε = 1e-8."""
    eta, rho, eps = 0.01, 0.9, 1e-8
    theta_0 = np.array(THETA_0)
    # Step 1: s1 = 0.1 g1² = [0.001, 0.004, 0.009]; no bias correction, so √s1 = √0.1 |g1|
    # and the first step is η / √0.1 ≈ 3.16 η per parameter.
    s1 = np.array([0.001, 0.004, 0.009])
    theta_1 = theta_0 - eta * G1 / (np.sqrt(s1) + eps)
    np.testing.assert_allclose(theta_0 - theta_1, eta / np.sqrt(0.1) * np.sign(G1), rtol=1e-6)
    # Step 2: s2 = 0.9 s1 + 0.1 g2² = [0.0009 + 0.016, 0.0036 + 0.025, 0.0081 + 0.036]
    s2 = np.array([0.0009 + 0.016, 0.0036 + 0.025, 0.0081 + 0.036])
    theta_2 = theta_1 - eta * G2 / (np.sqrt(s2) + eps)
    # Step 3: s3 = 0.9 s2 + 0.1 g3² = 0.9 s2 + [0.004, 0.004, 0.001]
    s3 = rho * s2 + np.array([0.004, 0.004, 0.001])
    theta_3 = theta_2 - eta * G3 / (np.sqrt(s3) + eps)
    assert_trajectory(RMSProp(learning_rate=eta, rho=rho), [theta_1, theta_2, theta_3])


def adam_by_hand(eta, weight_decay=0.0):
    """Three Adam(W) steps with β₁ = 0.9, β₂ = 0.999, ε = 1e-8, written out."""
    eps = 1e-8
    theta = np.array(THETA_0)
    expected = []
    # Step 1 (t = 1): m1 = 0.1 g1, v1 = 0.001 g1²; the corrections divide by 1 - 0.9 = 0.1 and
    # 1 - 0.999 = 0.001, so m̂ = g1 and v̂ = g1²: the first step is η g1 / (|g1| + ε).
    theta = theta * (1 - eta * weight_decay)
    m1 = 0.1 * G1
    v1 = 0.001 * G1**2
    m_hat, v_hat = m1 / 0.1, v1 / 0.001
    np.testing.assert_allclose(m_hat, G1)
    theta = theta - eta * m_hat / (np.sqrt(v_hat) + eps)
    expected.append(theta)
    # Step 2 (t = 2): corrections 1 - 0.9² = 0.19 and 1 - 0.999² = 0.001999.
    theta = theta * (1 - eta * weight_decay)
    m2 = 0.9 * m1 + 0.1 * G2
    v2 = 0.999 * v1 + 0.001 * G2**2
    theta = theta - eta * (m2 / 0.19) / (np.sqrt(v2 / 0.001999) + eps)
    expected.append(theta)
    # Step 3 (t = 3): corrections 1 - 0.9³ = 0.271 and 1 - 0.999³ = 0.002997001.
    theta = theta * (1 - eta * weight_decay)
    m3 = 0.9 * m2 + 0.1 * G3
    v3 = 0.999 * v2 + 0.001 * G3**2
    theta = theta - eta * (m3 / 0.271) / (np.sqrt(v3 / 0.002997001) + eps)
    expected.append(theta)
    return expected


def test_adam_steps_by_hand():
    """m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;  θ ← θ - η m̂ / (√v̂ + ε), bias-corrected."""
    expected = adam_by_hand(eta=0.1)
    # The first step moves every parameter by η, against its gradient's sign.
    np.testing.assert_allclose(expected[0], [0.9, -1.9, 0.4], rtol=1e-7)
    assert_trajectory(Adam(learning_rate=0.1), expected)


def test_adamw_steps_by_hand():
    """θ ← θ (1 - η λ) first, then the Adam step: the decay bypasses m and v."""
    expected = adam_by_hand(eta=0.1, weight_decay=0.1)
    # Step 1: θ0 · (1 - 0.01) then - 0.1 sign(g1)
    np.testing.assert_allclose(expected[0], [0.99 - 0.1, -1.98 + 0.1, 0.495 - 0.1], rtol=1e-7)
    assert_trajectory(AdamW(learning_rate=0.1, weight_decay=0.1), expected)


def test_adamw_with_zero_decay_is_adam():
    a = run_steps(AdamW(learning_rate=0.1, weight_decay=0.0), GRADIENTS)
    b = run_steps(Adam(learning_rate=0.1), GRADIENTS)
    np.testing.assert_array_equal(a, b)


# -- the contract around a step -----------------------------------------------------------


def test_momentum_learning_rate_change_applies_to_the_next_step():
    """A schedule sets ``learning_rate`` between steps; PyTorch's form scales the velocity."""
    optimizer = Momentum(learning_rate=0.1, momentum=0.9)
    params = np.array(THETA_0)
    optimizer.step(params, G1)  # θ1 = [0.99, -1.98, 0.47], v1 = g1
    optimizer.learning_rate = 0.01
    optimizer.step(params, G2)  # v2 = [-0.31, 0.32, 0.87], θ2 = θ1 - 0.01 v2
    np.testing.assert_allclose(params, [0.99 + 0.0031, -1.98 - 0.0032, 0.47 - 0.0087], rtol=1e-12)


@pytest.mark.parametrize("name", [name for name in ALL_OPTIMIZERS if name != "classic_momentum"])
def test_learning_rate_change_scales_the_next_step(name):
    """Halving η before step 2 halves step 2 (the state does not depend on η), for every rule
    written in PyTorch's form; the classic momentum keeps η inside its velocity (below)."""
    constant, halved = ALL_OPTIMIZERS[name](), ALL_OPTIMIZERS[name]()
    p_constant, p_halved = np.array(THETA_0), np.array(THETA_0)
    constant.step(p_constant, G1)
    halved.step(p_halved, G1)
    theta_1 = p_constant.copy()
    halved.learning_rate = constant.learning_rate / 2
    constant.step(p_constant, G2)
    halved.step(p_halved, G2)
    np.testing.assert_allclose(p_halved - theta_1, (p_constant - theta_1) / 2, rtol=1e-12)


def test_classic_momentum_is_pytorchs_at_a_constant_rate_and_keeps_eta_in_its_velocity():
    classic, torch_form = ClassicMomentum(0.1, 0.9), Momentum(0.1, 0.9)
    p_classic, p_torch = np.array(THETA_0), np.array(THETA_0)
    for g in (G1, G2, G1):
        classic.step(p_classic, g)
        torch_form.step(p_torch, g)
    np.testing.assert_allclose(p_classic, p_torch, rtol=1e-14)
    np.testing.assert_allclose(classic.velocity, -0.1 * torch_form.velocity, rtol=1e-14)
    # after a change of rate only the new gradient is scaled: v2 = 0.9 v1 - 0.05 g2
    changed, params = ClassicMomentum(0.1, 0.9), np.array(THETA_0)
    changed.step(params, G1)
    theta_1 = params.copy()
    changed.learning_rate = 0.05
    changed.step(params, G2)
    np.testing.assert_allclose(params - theta_1, 0.9 * (-0.1 * G1) - 0.05 * G2, rtol=1e-12)


def test_state_persists_between_steps():
    """Each optimizer owns its moments and step count; they carry over from step to step."""
    momentum = Momentum(learning_rate=0.1, momentum=0.9)
    run_steps(momentum, [G1, G2])
    np.testing.assert_allclose(momentum.velocity, 0.9 * G1 + G2, rtol=1e-15)
    assert momentum.iterations == 2

    adam = Adam(learning_rate=0.1)
    run_steps(adam, [G1, G2])
    np.testing.assert_allclose(adam.m, 0.9 * 0.1 * G1 + 0.1 * G2, rtol=1e-15)
    np.testing.assert_allclose(adam.v, 0.999 * 0.001 * G1**2 + 0.001 * G2**2, rtol=1e-15)
    assert adam.iterations == 2

    adagrad = AdaGrad()
    run_steps(adagrad, [G1, G2])
    np.testing.assert_allclose(adagrad.sum_of_squares, G1**2 + G2**2, rtol=1e-15)


def test_two_optimizers_do_not_share_state():
    first, second = Momentum(learning_rate=0.1), Momentum(learning_rate=0.1)
    run_steps(first, [G1, G2])
    assert_trajectory(second, [[0.99, -1.98, 0.47]])


@pytest.mark.parametrize("name", ALL_OPTIMIZERS)
def test_float32_buffers_stay_float32(name):
    """Training in float32 must not silently promote the parameters or the state."""
    optimizer = ALL_OPTIMIZERS[name]()
    trajectory_32 = run_steps(optimizer, GRADIENTS, dtype=np.float32)
    trajectory_64 = run_steps(ALL_OPTIMIZERS[name](), GRADIENTS)
    for state in ("velocity", "sum_of_squares", "mean_square", "m", "v"):
        if hasattr(optimizer, state):
            assert getattr(optimizer, state).dtype == np.float32, state
    for got, want in zip(trajectory_32, trajectory_64, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("name", ALL_OPTIMIZERS)
def test_step_updates_the_buffer_in_place(name):
    """Layers hold views into the flat buffer, so the step must write into that same array."""
    params = np.array(THETA_0)
    layer_view = params[1:]  # what a layer's W would be
    before = params.copy()
    ALL_OPTIMIZERS[name]().step(params, G1)
    assert not np.array_equal(params, before)
    np.testing.assert_array_equal(layer_view, params[1:])
    assert np.shares_memory(layer_view, params)


@pytest.mark.parametrize("name", ALL_OPTIMIZERS)
def test_step_leaves_the_gradients_untouched(name):
    grads = G1.copy()
    ALL_OPTIMIZERS[name]().step(np.array(THETA_0), grads)
    np.testing.assert_array_equal(grads, G1)


# -- errors a user can trigger ------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "arguments", "argument"),
    [
        (SGD, {"learning_rate": -0.1}, "learning_rate"),
        (SGD, {"learning_rate": 0}, "learning_rate"),
        (SGD, {"learning_rate": float("nan")}, "learning_rate"),
        (SGD, {"learning_rate": "0.1"}, "learning_rate"),
        (Momentum, {"momentum": 1.0}, "momentum"),
        (Nesterov, {"momentum": -0.1}, "momentum"),
        (RMSProp, {"rho": 1.0}, "rho"),
        (AdaGrad, {"epsilon": -1e-10}, "epsilon"),
        (Adam, {"beta1": 1.5}, "beta1"),
        (Adam, {"beta2": 1.0}, "beta2"),
        (AdamW, {"weight_decay": -0.01}, "weight_decay"),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_bad_hyperparameters_name_the_argument(factory, arguments, argument):
    with pytest.raises(ValueError, match=rf"{factory.type_name}: {argument} must be .*got"):
        factory(**arguments)


def test_unknown_optimizer_lists_the_valid_ones():
    with pytest.raises(
        ValueError,
        match="unknown optimizer 'nope'; valid optimizers: sgd, momentum, classic_momentum, nesterov, adagrad, "
        "rmsprop, adam, adamw",
    ):
        get_optimizer("nope")


def test_get_optimizer_from_a_recipe_mapping():
    optimizer = get_optimizer({"name": "momentum", "learning_rate": 0.02})
    assert isinstance(optimizer, Momentum)
    assert optimizer.learning_rate == 0.02
    assert optimizer.momentum == 0.9  # the default
    assert optimizer.get_config() == {"name": "momentum", "learning_rate": 0.02, "momentum": 0.9}


def test_get_optimizer_rejects_an_argument_the_rule_does_not_take():
    with pytest.raises(ValueError, match=r"'sgd' got unknown argument.*momentum.*learning_rate"):
        get_optimizer({"name": "sgd", "momentum": 0.9})


def test_get_optimizer_passes_instances_through():
    optimizer = Adam()
    assert get_optimizer(optimizer) is optimizer


@pytest.mark.parametrize(
    ("params", "grads"),
    [(np.zeros(3), np.zeros(4)), (np.zeros((2, 3)), np.zeros((2, 3)))],
    ids=["length-mismatch", "not-flat"],
)
def test_mismatched_buffers_raise(params, grads):
    with pytest.raises(ValueError, match="params and grads must be flat buffers of one shape"):
        SGD().step(params, grads)


# -- against PyTorch, when it is installed ------------------------------------------------


def torch_optimizer(torch, name, parameter):
    """The torch.optim equivalent of ALL_OPTIMIZERS[name]."""
    optim = torch.optim
    return {
        "sgd": lambda: optim.SGD([parameter], lr=0.1),
        "momentum": lambda: optim.SGD([parameter], lr=0.1, momentum=0.9),
        # the classic form's twin: the same weights at a constant rate
        "classic_momentum": lambda: optim.SGD([parameter], lr=0.1, momentum=0.9),
        "nesterov": lambda: optim.SGD([parameter], lr=0.1, momentum=0.9, nesterov=True),
        "adagrad": lambda: optim.Adagrad([parameter], lr=0.1, eps=1e-10),
        "rmsprop": lambda: optim.RMSprop([parameter], lr=0.01, alpha=0.9, eps=1e-8),
        "adam": lambda: optim.Adam([parameter], lr=0.1),
        "adamw": lambda: optim.AdamW([parameter], lr=0.1, weight_decay=0.1),
    }[name]()


@pytest.mark.parametrize("name", ALL_OPTIMIZERS)
def test_five_steps_match_torch_optim(name):
    """Same formulas as torch.optim: the same trajectory to float64 rounding."""
    torch = pytest.importorskip("torch")
    gradients = np.random.default_rng(0).normal(size=(5, 3))
    ours = run_steps(ALL_OPTIMIZERS[name](), gradients)
    parameter = torch.tensor(THETA_0, dtype=torch.float64, requires_grad=True)
    optimizer = torch_optimizer(torch, name, parameter)
    for step, g in enumerate(gradients):
        parameter.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        np.testing.assert_allclose(
            ours[step], parameter.detach().numpy(), rtol=1e-12, err_msg=f"step {step + 1}"
        )


def gradients_of_every_size(steps: int, size: int) -> np.ndarray:
    """Gradients from 1e-12 to 0.1 with either sign, 30% zeros, and each parameter's first
    non-zero gradient at a random step: the tiny first gradients are where RMSProp's step is
    about η g / ε, the most sensitive place for its rounding."""
    rng = np.random.default_rng(3)
    gradients = 10.0 ** rng.uniform(-12, -1, size=(steps, size))
    gradients *= rng.choice([-1.0, 1.0], size=(steps, size))
    gradients[rng.random((steps, size)) < 0.3] = 0.0
    first = rng.integers(0, steps, size=size)
    gradients[np.arange(steps)[:, None] < first] = 0.0
    return gradients


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_fifty_steps_on_the_same_gradients_match_torch_optim(name):
    """benchmarks/parity.py's target, 1e-9 relative after 50 steps in float64, for the update
    rule alone: both optimizers fed the same gradients, at the benchmark's settings. Each
    parameter agrees to 1e-12 (measured: ~1e-13 at worst, for RMSProp)."""
    torch = pytest.importorskip("torch")
    from chainrule.nn.interop import torch_optimizer as twin_of

    gradients = gradients_of_every_size(50, 400)
    theta_0 = np.random.default_rng(4).normal(scale=0.05, size=400)
    optimizer = get_optimizer({"name": name, "learning_rate": 0.01})
    ours = theta_0.copy()
    parameter = torch.tensor(theta_0, requires_grad=True)
    theirs = twin_of(optimizer, [parameter])
    for g in gradients:
        optimizer.step(ours, g.copy())
        parameter.grad = torch.from_numpy(g.copy())
        theirs.step()
    reference = parameter.detach().numpy()
    assert np.max(np.abs(ours - reference)) / np.max(np.abs(reference)) < 1e-9
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adam"])
def test_subnormal_state_is_flushed_to_zero(name):
    """Momentum of a weight whose gradient is always 0 decays into subnormal floats, whose
    arithmetic is ~25x slower; the optimizer zeroes them every FLUSH_EVERY steps."""
    optimizer = get_optimizer(name)
    params = np.ones(4, np.float32)
    grads = np.array([1.0, 1.0, 0.0, 0.0], np.float32)
    optimizer.step(params, grads)
    state = optimizer.state_arrays()[0]
    state[2] = 1e-40  # subnormal in float32
    state[3] = 1e-30  # tiny but normal: kept
    grads[:] = 0.0
    while optimizer.iterations % optimizer.FLUSH_EVERY:
        optimizer.step(params, grads)
    assert state[2] == 0.0
    assert state[3] != 0.0
    assert np.all(np.isfinite(params))


# -- each optimizer's math description agrees with its step ------------------------------------


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_the_described_update_rule_is_the_step(name):
    """Run the description's rules element-wise on NumPy arrays next to ``step``: same
    parameters and the same state, read through the names the description gives."""
    rng = np.random.default_rng(11)
    optimizer = get_optimizer(name)
    math = optimizer.math
    params = rng.normal(size=6)
    quantities = {"θ": params.copy(), **optimizer.hyperparameters()}
    quantities |= {state: np.zeros(6) for state in math.state}
    for t in range(1, 4):
        grads = rng.normal(size=6)
        optimizer.step(params, grads.copy())
        quantities = math.step({**quantities, "g": grads, "t": t})
        np.testing.assert_allclose(quantities["θ"], params, rtol=1e-12, atol=1e-15)
        for state, attribute in math.state.items():
            np.testing.assert_allclose(quantities[state], getattr(optimizer, attribute), rtol=1e-12)
    assert set(math.symbols) <= set(optimizer.hyperparameters())


def test_the_worked_example_lines_fill_with_the_hyperparameters():
    line = Adam(0.01).math.worked[-1].format(**Adam(0.01).hyperparameters())
    assert line.text.startswith("η = 0.01, β1 = 0.9, β2 = 0.999, ε = 1e-08")
    assert line.tex.endswith(r"\varepsilon = 10^{-8}")
    assert AdamW.math.rules[0].tex == r"\theta\,(1 - \eta \lambda_w)"  # decay first, then Adam
