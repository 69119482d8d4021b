"""Conv2D: z = W ⋆ x + b by im2col, its gradients, PyTorch parity, and the errors shapes give."""

import numpy as np
import pytest

from chainrule.nn.gradcheck import gradcheck, gradcheck_layer
from chainrule.nn.layers import (
    Conv2D,
    Dense,
    Flatten,
    MaxPool2D,
    ReLU,
    Softmax,
    Tanh,
    layer_from_config,
)
from chainrule.nn.model import Sequential

STRIDES = [1, 2]
PADDINGS = ["valid", "same", 1]
# (input channels, height, width), kernel: odd sizes and a non-square kernel
GEOMETRIES = [((2, 7, 5), (3, 2)), ((1, 6, 6), 3)]


def built_conv(input_shape, *args, dtype="float64", seed=0, **kwargs):
    """A Conv2D inside a one-layer model (so it has parameters), and that model."""
    model = Sequential([Conv2D(*args, **kwargs)], input_shape=input_shape, dtype=dtype, seed=seed)
    return model.layers[0], model


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("stride", STRIDES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize(("input_shape", "kernel"), GEOMETRIES)
def test_gradients_match_central_differences(rng, batch, stride, padding, input_shape, kernel):
    layer = Conv2D(3, kernel, stride=stride, padding=padding)
    check = gradcheck_layer(layer, rng.normal(size=(batch, *input_shape)))
    assert check.passed, str(check)
    assert set(check.errors) == {"conv2d_1.W", "conv2d_1.b", "input"}


def test_gradients_without_bias_and_in_inference_mode(rng):
    x = rng.normal(size=(2, 2, 5, 6))
    check = gradcheck_layer(Conv2D(2, (2, 3), use_bias=False), x, training=False)
    assert check.passed, str(check)
    assert set(check.errors) == {"conv2d_1.W", "input"}


def test_whole_cnn_gradients_match_central_differences(rng):
    model = Sequential(
        [
            Conv2D(3, 3, padding="same"),
            Tanh(),
            MaxPool2D(2),
            Conv2D(2, (2, 3), stride=2, padding=1),
            Flatten(),
            Dense(4),
            Softmax(),
        ],
        loss="categorical_crossentropy",
        input_shape=(2, 7, 9),
        l2=0.01,
        dtype="float64",
    )
    check = gradcheck(model, rng.normal(size=(3, 2, 7, 9)), rng.integers(0, 4, 3))
    assert check.passed, str(check)


# ----------------------------------------------------------------------- parity with PyTorch


def torch_conv2d(torch, x, W, b, stride, pads):
    """F.conv2d with explicit (possibly asymmetric) zero padding, as chainrule pads."""
    functional = torch.nn.functional
    (top, bottom), (left, right) = pads
    x = functional.pad(x, (left, right, top, bottom))
    return functional.conv2d(x, W, b, stride=stride)


@pytest.mark.parametrize("stride", [1, 2, (2, 1)])
@pytest.mark.parametrize("padding", [*PADDINGS, (0, 2)])
@pytest.mark.parametrize(("input_shape", "kernel"), [*GEOMETRIES, ((3, 9, 8), (4, 4))])
def test_forward_and_backward_match_pytorch(rng, stride, padding, input_shape, kernel):
    torch = pytest.importorskip("torch")
    layer, model = built_conv(input_shape, 4, kernel, stride=stride, padding=padding)
    model.params["conv2d_1.b"] = rng.normal(size=4)
    x = rng.normal(size=(3, *input_shape))
    z = model.forward(x, training=True)
    delta = rng.normal(size=z.shape)
    dx = model.backward_from(delta)

    xt = torch.from_numpy(x).requires_grad_()
    Wt = torch.from_numpy(layer.W.copy()).requires_grad_()
    bt = torch.from_numpy(layer.b.copy()).requires_grad_()
    zt = torch_conv2d(torch, xt, Wt, bt, layer.stride, layer.pads)
    zt.backward(torch.from_numpy(delta))
    np.testing.assert_allclose(z, zt.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.dW, Wt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.db, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
def test_same_padding_with_stride_one_is_pytorchs_padding_same(rng):
    torch = pytest.importorskip("torch")
    for kernel in [3, 4, (2, 5)]:
        layer, model = built_conv((2, 8, 7), 3, kernel, padding="same")
        x = rng.normal(size=(2, 2, 8, 7))
        expected = torch.nn.functional.conv2d(
            torch.from_numpy(x), torch.from_numpy(layer.W.copy()), padding="same"
        )
        np.testing.assert_allclose(model.forward(x), expected.numpy(), rtol=1e-10, atol=1e-12)


def test_a_cnn_converts_to_pytorch_and_predicts_the_same(rng):
    torch = pytest.importorskip("torch")
    from chainrule.nn.interop import to_torch

    model = Sequential(
        [
            Conv2D(4, 3, padding="same"),
            ReLU(),
            MaxPool2D(2),
            Conv2D(3, (2, 3), stride=2, padding="same"),
            Flatten(),
            Dense(5),
            Softmax(),
        ],
        input_shape=(1, 9, 8),
        dtype="float64",
    )
    x = rng.normal(size=(4, 1, 9, 8))
    expected = to_torch(model)(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------- shapes and parameters


def test_summary_counts_parameters_and_prints_the_output_shape():
    model = Sequential([Conv2D(8, 3)], input_shape=(1, 28, 28))
    assert model.count_params() == 8 * 1 * 3 * 3 + 8 == 80
    assert "(None, 8, 26, 26)" in model.summary()
    assert model.layers[0].output_shape == (8, 26, 26)
    # multiply-adds of one image: every output value sums in_channels·kh·kw products
    assert model.layers[0].multiply_adds() == 8 * 26 * 26 * (1 * 3 * 3)


@pytest.mark.parametrize(
    ("kwargs", "input_shape", "expected"),
    [
        ({"kernel_size": 5, "padding": "same"}, (1, 28, 28), (6, 28, 28)),
        ({"kernel_size": 5}, (6, 14, 14), (6, 10, 10)),
        ({"kernel_size": 3, "stride": 2, "padding": "same"}, (1, 7, 8), (6, 4, 4)),
        ({"kernel_size": (3, 2), "stride": 2}, (2, 7, 5), (6, 3, 2)),
        ({"kernel_size": 3, "padding": 1}, (1, 5, 5), (6, 5, 5)),
        ({"kernel_size": 3, "padding": (0, 2)}, (1, 5, 5), (6, 3, 7)),
    ],
)
def test_output_shape(kwargs, input_shape, expected):
    model = Sequential([Conv2D(6, **kwargs)], input_shape=input_shape)
    assert model.output_shape == expected
    z = model.forward(np.zeros((2, *input_shape), np.float32))
    assert z.shape == (2, *expected)


def test_weights_are_out_in_kh_kw_with_fans_of_the_kernel():
    layer, model = built_conv((3, 8, 8), 5, (2, 4), kernel_initializer="he_uniform")
    specs = layer.parameter_specs()
    assert specs["W"].shape == (5, 3, 2, 4) and specs["b"].shape == (5,)
    assert (specs["W"].fan_in, specs["W"].fan_out) == (3 * 2 * 4, 5 * 2 * 4)
    assert not specs["b"].regularize
    limit = np.sqrt(6 / (3 * 2 * 4))  # he_uniform: U(±sqrt(6 / fan_in))
    assert np.abs(layer.W).max() <= limit and np.abs(layer.W).max() > 0.8 * limit
    assert np.shares_memory(layer.W, model.params.data)
    assert np.shares_memory(layer.dW, model.params.grad_data)


def test_float32_stays_float32(rng):
    layer, model = built_conv((2, 6, 6), 3, 3, stride=2, padding="same", dtype="float32")
    x = rng.normal(size=(2, 2, 6, 6)).astype(np.float32)
    z = model.forward(x, training=True)
    dx = model.backward_from(np.ones_like(z))
    assert z.dtype == dx.dtype == layer.dW.dtype == np.float32


def test_inference_forward_gives_the_same_output_and_gradients_as_training(rng):
    layer, model = built_conv((2, 6, 5), 3, 3, padding="same")
    x = rng.normal(size=(2, 2, 6, 5))
    delta = rng.normal(size=(2, 3, 6, 5))
    gradients = []
    for training in (True, False):
        z = model.forward(x, training=training)
        gradients.append((z, model.backward_from(delta), layer.dW.copy()))
    for trained, inferred in zip(*gradients, strict=True):
        np.testing.assert_array_equal(trained, inferred)


def test_first_layer_skips_the_input_gradient(rng):
    layer, model = built_conv((1, 5, 5), 2, 3)
    model.forward(rng.normal(size=(2, 1, 5, 5)), training=True)
    assert model.backward_from(np.ones((2, 2, 3, 3)), input_grad=False) is None
    assert np.abs(layer.dW).sum() > 0


def test_config_round_trip():
    layer = Conv2D(7, (3, 2), stride=(2, 1), padding="same", use_bias=False, name="c")
    rebuilt = layer_from_config(layer.get_config())
    assert isinstance(rebuilt, Conv2D)
    assert rebuilt.get_config() == layer.get_config()
    assert layer.get_config()["kernel_size"] == [3, 2]
    recipe_style = layer_from_config({"type": "conv2d", "filters": 4, "kernel_size": 5})
    assert recipe_style.kernel_size == (5, 5) and recipe_style.padding == "valid"


# ----------------------------------------------------------------------- training


def test_a_small_cnn_learns(rng):
    from chainrule.nn.optim import get_optimizer
    from chainrule.training.trainer import Trainer

    templates = rng.normal(size=(10, 1, 12, 12))
    y = rng.integers(0, 10, 300)
    x = (templates[y] + 0.8 * rng.normal(size=(300, 1, 12, 12))).astype(np.float32)
    model = Sequential(
        [Conv2D(4, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(10), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(1, 12, 12),
    )
    optimizer = get_optimizer({"name": "adam", "learning_rate": 0.01})
    history = Trainer(model, optimizer, epochs=4, batch_size=32, progress=False).fit(x, y)
    losses = history["train_loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert history["train_accuracy"][-1] > 0.8
    assert model.params.data.dtype == np.float32


# ----------------------------------------------------------------------- errors


def test_flat_input_names_the_layer_and_the_fix():
    with pytest.raises(
        ValueError,
        match=r"Conv2D 'conv2d_1' expects input \(channels, height, width\), got \(784,\); "
        r"set data.shape: image \(layer 1 of the model\)",
    ):
        Sequential([Conv2D(8, 3)], input_shape=(784,))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"'big': kernel 5x5 is larger than its padded input 4x4"):
        Sequential([Conv2D(2, 5, name="big")], input_shape=(1, 4, 4))
    assert Sequential([Conv2D(2, 5, padding=1)], input_shape=(1, 4, 4)).output_shape == (2, 2, 2)


def test_wrong_input_shape_at_forward():
    layer, _ = built_conv((1, 6, 6), 2, 3)
    with pytest.raises(
        ValueError, match=r"expects input of shape \(batch, 1, 6, 6\), got \(2, 6, 6\)"
    ):
        layer.forward(np.zeros((2, 6, 6)))


def test_backward_before_forward():
    layer, _ = built_conv((1, 6, 6), 2, 3)
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward"):
        layer.backward(np.zeros((1, 2, 4, 4)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": 0, "kernel_size": 3}, "Conv2D: filters must be an integer >= 1, got 0"),
        ({"filters": 2, "kernel_size": 0}, "kernel_size must be an integer >= 1"),
        ({"filters": 2, "kernel_size": (3, 3, 3)}, "kernel_size must be .* pair"),
        ({"filters": 2, "kernel_size": 3, "stride": 0}, "stride must be an integer >= 1"),
        ({"filters": 2, "kernel_size": 3, "padding": "full"}, "padding must be 'valid', 'same'"),
        ({"filters": 2, "kernel_size": 3, "padding": -1}, "padding must be 'valid', 'same'"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2D(**kwargs)
