"""BatchNorm: batch statistics in training, running statistics in inference, and their state."""

import numpy as np
import pytest

from chainrule.nn.gradcheck import gradcheck, gradcheck_layer, numerical_gradient, relative_error
from chainrule.nn.layers import (
    BatchNorm,
    Conv2D,
    Dense,
    Flatten,
    ReLU,
    Softmax,
    Tanh,
    layer_from_config,
)
from chainrule.nn.model import Sequential

SHAPES = [(4,), (3, 5, 4)]  # dense features, and (channels, height, width)


def built(input_shape, dtype="float64", **kwargs):
    model = Sequential([BatchNorm(**kwargs)], input_shape=input_shape, dtype=dtype)
    return model.layers[0], model


# Images have H·W values per channel even in a batch of one. (Two dense examples normalize to
# exactly ±1 whatever x is, so dx ≈ 0 and the check would only measure rounding noise.)
@pytest.mark.parametrize(
    ("input_shape", "batch"), [((4,), 3), ((4,), 6), ((3, 5, 4), 1), ((3, 5, 4), 4)]
)
@pytest.mark.parametrize("training", [True, False])
def test_gradients_match_central_differences(rng, input_shape, training, batch):
    layer = BatchNorm()
    x = rng.normal(1.0, 2.0, size=(batch, *input_shape))
    check = gradcheck_layer(layer, x, training=training)
    assert check.passed, str(check)
    assert set(check.errors) == {"batch_norm_1.gamma", "batch_norm_1.beta", "input"}


def test_gradients_with_trained_gamma_beta_and_running_statistics(rng):
    """Non-trivial γ, β, μ_run, σ²_run (the defaults 1, 0, 0, 1 can hide mistakes)."""
    x = rng.normal(size=(3, 2, 3, 3))
    projection = rng.normal(size=x.shape)
    for training in (True, False):
        layer, model = built((2, 3, 3))
        model.params["batch_norm_1.gamma"] = [1.5, -0.7]
        model.params["batch_norm_1.beta"] = [0.3, 2.0]
        layer.set_state({"running_mean": [0.5, -1.0], "running_var": [2.0, 0.3]})

        def loss(training=training, layer=layer):
            return float(np.sum(layer.forward(x, training) * projection))

        loss()
        dx = model.backward_from(projection)
        assert relative_error(dx, numerical_gradient(loss, x)) < 1e-6
        for name, param in model.params.items():
            numeric = numerical_gradient(loss, param)
            assert relative_error(model.grads[name], numeric) < 1e-6, name


def test_whole_model_gradients_in_training_mode(rng):
    model = Sequential(
        [
            Conv2D(3, 3, use_bias=False),  # a bias before BatchNorm is cancelled: dL/db = 0
            BatchNorm(),
            Tanh(),
            Flatten(),
            Dense(4, use_bias=False),
            BatchNorm(),
            ReLU(),
            Dense(3),
            Softmax(),
        ],
        loss="categorical_crossentropy",
        input_shape=(1, 5, 5),
        dtype="float64",
    )
    x, y = rng.normal(size=(6, 1, 5, 5)), rng.integers(0, 3, 6)
    check = gradcheck(model, x, y, training=True)
    assert check.passed, str(check)


# ----------------------------------------------------------------------- parity with PyTorch


@pytest.mark.parametrize("input_shape", SHAPES)
def test_training_steps_match_pytorch_outputs_gradients_and_running_statistics(rng, input_shape):
    torch = pytest.importorskip("torch")
    layer, model = built(input_shape, momentum=0.2, epsilon=1e-3)
    gamma, beta = rng.normal(size=input_shape[0]), rng.normal(size=input_shape[0])
    model.params["batch_norm_1.gamma"], model.params["batch_norm_1.beta"] = gamma, beta
    gamma_t = torch.from_numpy(gamma.copy()).requires_grad_()
    beta_t = torch.from_numpy(beta.copy()).requires_grad_()
    running_mean_t = torch.zeros(input_shape[0], dtype=torch.float64)
    running_var_t = torch.ones(input_shape[0], dtype=torch.float64)
    for _ in range(3):
        x = rng.normal(2.0, 3.0, size=(4, *input_shape))
        y = model.forward(x, training=True)
        dout = rng.normal(size=y.shape)
        dx = model.backward_from(dout)

        xt = torch.from_numpy(x).requires_grad_()
        gamma_t.grad = beta_t.grad = None
        yt = torch.nn.functional.batch_norm(
            xt, running_mean_t, running_var_t, gamma_t, beta_t, True, 0.2, 1e-3
        )
        yt.backward(torch.from_numpy(dout))
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.dgamma, gamma_t.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.dbeta, beta_t.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.running_mean, running_mean_t.numpy(), rtol=1e-12)
        np.testing.assert_allclose(layer.running_var, running_var_t.numpy(), rtol=1e-12)

    # inference uses the running statistics, in both
    x = rng.normal(size=(3, *input_shape))
    y = model.forward(x, training=False)
    dout = rng.normal(size=y.shape)
    dx = model.backward_from(dout)
    xt = torch.from_numpy(x).requires_grad_()
    gamma_t.grad = None
    yt = torch.nn.functional.batch_norm(
        xt, running_mean_t, running_var_t, gamma_t, beta_t, False, 0.2, 1e-3
    )
    yt.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.dgamma, gamma_t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_converts_to_pytorch_with_its_running_statistics(rng):
    torch = pytest.importorskip("torch")
    from chainrule.nn.interop import to_torch

    model = Sequential(
        [Conv2D(2, 3), BatchNorm(), Flatten(), BatchNorm(momentum=0.3), Dense(3), Softmax()],
        input_shape=(1, 6, 6),
        dtype="float64",
    )
    for _ in range(3):
        model.forward(rng.normal(1.0, 2.0, size=(8, 1, 6, 6)), training=True)
    network = to_torch(model).eval()
    x = rng.normal(size=(4, 1, 6, 6))
    expected = network(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, rtol=1e-10)
    assert network[1].momentum == 0.1 and network[3].momentum == 0.3


# ----------------------------------------------------------------------- behaviour


def test_training_normalizes_each_channel_and_inference_uses_running_statistics(rng):
    layer, model = built((2, 4, 4))
    x = rng.normal(5.0, 3.0, size=(8, 2, 4, 4))
    y = model.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, rtol=1e-4)  # ε = 1e-5
    # one step of momentum 0.1 from (0, 1), with the unbiased variance
    m = x[:, 0].size
    np.testing.assert_allclose(layer.running_mean, 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(layer.running_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1))
    expected = (x - layer.running_mean.reshape(1, 2, 1, 1)) / np.sqrt(
        layer.running_var.reshape(1, 2, 1, 1) + 1e-5
    )
    np.testing.assert_allclose(model.forward(x, training=False), expected)


def test_backward_differentiates_the_mode_of_the_last_forward(rng):
    """After a training forward then an inference one, backward is inference's: the running
    statistics are constants, so dx = dy ⊙ γ / √(σ²_run + ε); and the other way round."""
    layer, model = built((3,))
    model.params["batch_norm_1.gamma"] = [1.5, -0.7, 2.0]
    x, dy = rng.normal(2.0, 3.0, size=(6, 3)), rng.normal(size=(6, 3))
    layer.forward(x, training=True)
    layer.forward(x, training=False)
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, dy * layer.gamma / np.sqrt(layer.running_var + 1e-5))
    layer.forward(x, training=True)
    x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    dx = layer.backward(dy)
    expected = (
        layer.gamma
        / np.sqrt(x.var(axis=0) + 1e-5)
        * (dy - dy.mean(axis=0) - x_hat * (dy * x_hat).mean(axis=0))
    )
    np.testing.assert_allclose(dx, expected, rtol=1e-10)


def test_running_statistics_are_state_not_parameters():
    layer, model = built((3,))
    assert model.params.keys() == ["batch_norm_1.gamma", "batch_norm_1.beta"]
    assert model.count_params() == 6
    specs = layer.parameter_specs()
    assert not specs["gamma"].regularize and not specs["beta"].regularize
    np.testing.assert_array_equal(model.params["batch_norm_1.gamma"], 1.0)
    np.testing.assert_array_equal(model.params["batch_norm_1.beta"], 0.0)
    assert not np.shares_memory(layer.running_mean, model.params.data)
    state = layer.get_state()
    assert set(state) == {"running_mean", "running_var"}
    np.testing.assert_array_equal(state["running_var"], 1.0)
    assert set(model.layer_states()) == {
        "batch_norm_1.state.running_mean",
        "batch_norm_1.state.running_var",
    }


def test_state_round_trip_and_copies(rng):
    layer, _ = built((3, 2, 2))
    state = {"running_mean": rng.normal(size=3), "running_var": rng.random(3) + 0.5}
    layer.set_state(state)
    got = layer.get_state()
    np.testing.assert_array_equal(got["running_mean"], state["running_mean"])
    got["running_mean"][:] = 99.0  # a copy: changing it does not change the layer
    np.testing.assert_array_equal(layer.running_mean, state["running_mean"])


def test_model_file_keeps_the_running_statistics(rng, tmp_path):
    model = Sequential(
        [Dense(4), BatchNorm(), ReLU(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(3,),
    )
    for _ in range(4):
        model.forward(rng.normal(2.0, 1.0, size=(16, 3)).astype(np.float32), training=True)
    path = model.save(tmp_path / "bn.safetensors")
    loaded = Sequential.load(path)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    np.testing.assert_array_equal(loaded.layers[1].running_var, model.layers[1].running_var)


@pytest.mark.parametrize("input_shape", SHAPES)
def test_float32_stays_float32_in_both_modes(rng, input_shape):
    layer, model = built(input_shape, dtype="float32")
    x = rng.normal(size=(4, *input_shape)).astype(np.float32)
    for training in (True, False):
        y = model.forward(x, training=training)
        dx = model.backward_from(np.ones_like(y))
        assert y.dtype == dx.dtype == layer.dgamma.dtype == np.float32
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float32
    assert model.astype("float64").layers[0].running_var.dtype == np.float64


def test_config_round_trip():
    layer = BatchNorm(momentum=0.05, epsilon=1e-3, name="bn")
    rebuilt = layer_from_config(layer.get_config())
    assert isinstance(rebuilt, BatchNorm) and rebuilt.get_config() == layer.get_config()
    assert layer_from_config({"type": "batch_norm"}).momentum == 0.1


# ----------------------------------------------------------------------- errors


def test_a_batch_of_one_cannot_be_normalized_in_training():
    _, model = built((4,))
    with pytest.raises(ValueError, match="'batch_norm_1' needs more than one value per feature"):
        model.forward(np.zeros((1, 4)), training=True)
    assert model.forward(np.zeros((1, 4))).shape == (1, 4)  # inference is fine
    _, images = built((2, 3, 3))
    assert images.forward(np.zeros((1, 2, 3, 3)), training=True).shape == (1, 2, 3, 3)


def test_unsupported_input_shape():
    with pytest.raises(ValueError, match=r"expects features \(F,\) or images .* got \(3, 4\)"):
        Sequential([BatchNorm()], input_shape=(3, 4))


def test_set_state_checks_keys_and_shapes():
    layer, _ = built((3,))
    with pytest.raises(ValueError, match="exactly the keys running_mean and running_var"):
        layer.set_state({"running_mean": np.zeros(3)})
    with pytest.raises(ValueError, match=r"running_var must have shape \(3,\), got \(4,\)"):
        layer.set_state({"running_mean": np.zeros(3), "running_var": np.ones(4)})


def test_state_needs_a_model():
    with pytest.raises(RuntimeError, match="add it to a Sequential model first"):
        BatchNorm().get_state()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"momentum": 1.5},
            r"^BatchNorm: momentum \(the weight of each new batch in the running statistics, "
            r"PyTorch's convention\) must be a number in \[0, 1\], got 1.5$",
        ),
        ({"momentum": True}, r"momentum \(the weight .* got True$"),
        ({"momentum": 0.99, "epsilon": 0}, "^BatchNorm: epsilon must be a number > 0, got 0$"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchNorm(**kwargs)


def test_a_cnn_model_file_loads_into_pytorch_with_its_statistics(rng, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors.torch")
    from chainrule.nn.interop import load_torch
    from chainrule.nn.layers import MaxPool2D

    model = Sequential(
        [Conv2D(3, 3, use_bias=False), BatchNorm(), ReLU(), MaxPool2D(2), Flatten(), Dense(4)],
        input_shape=(1, 8, 8),
    )
    for _ in range(3):
        model.forward(rng.normal(1.0, 2.0, size=(8, 1, 8, 8)).astype(np.float32), training=True)
    network = load_torch(model.save(tmp_path / "cnn.safetensors")).eval()
    x = rng.normal(size=(5, 1, 8, 8)).astype(np.float32)
    expected = network(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, rtol=1e-5, atol=1e-6)
