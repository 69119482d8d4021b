"""MaxPool2D and AvgPool2D: window max/mean, gradients routed back, parity with PyTorch."""

import numpy as np
import pytest

from chainrule.nn.gradcheck import gradcheck, gradcheck_layer
from chainrule.nn.layers import (
    AvgPool2D,
    Conv2D,
    Dense,
    Flatten,
    MaxPool2D,
    Softmax,
    layer_from_config,
)
from chainrule.nn.model import Sequential

POOLS = [MaxPool2D, AvgPool2D]
# pool size, stride: the default, overlapping windows, a non-square window, gaps between windows
WINDOWS = [(2, None), (3, 2), ((2, 3), (1, 2)), (2, 3)]


def built(pool, input_shape, *args, dtype="float64", **kwargs):
    model = Sequential([pool(*args, **kwargs)], input_shape=input_shape, dtype=dtype)
    return model.layers[0], model


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize(("pool_size", "stride"), WINDOWS)
@pytest.mark.parametrize("batch", [1, 2])
def test_gradients_match_central_differences(rng, pool, pool_size, stride, batch):
    x = rng.normal(size=(batch, 2, 7, 5))  # odd sizes: the last row/column is dropped
    check = gradcheck_layer(pool(pool_size, stride), x)
    assert check.passed, str(check)


def test_whole_model_gradients_through_pooling(rng):
    model = Sequential(
        [Conv2D(2, 3), MaxPool2D(2), AvgPool2D((1, 2)), Flatten(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        input_shape=(1, 8, 9),
        dtype="float64",
    )
    check = gradcheck(model, rng.normal(size=(2, 1, 8, 9)), rng.integers(0, 3, 2))
    assert check.passed, str(check)


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize(("pool_size", "stride"), WINDOWS)
@pytest.mark.parametrize("input_shape", [(3, 7, 5), (2, 8, 8)])
def test_forward_and_backward_match_pytorch(rng, pool, pool_size, stride, input_shape):
    torch = pytest.importorskip("torch")
    layer, model = built(pool, input_shape, pool_size, stride)
    x = rng.normal(size=(2, *input_shape))
    a = model.forward(x, training=True)
    dout = rng.normal(size=a.shape)
    dx = model.backward_from(dout)

    xt = torch.from_numpy(x).requires_grad_()
    function = (
        torch.nn.functional.max_pool2d if pool is MaxPool2D else torch.nn.functional.avg_pool2d
    )
    at = function(xt, layer.pool_size, layer.stride)
    at.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(a, at.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("pool_size", "stride"), [(2, None), (3, 1)])
def test_max_pool_ties_route_the_gradient_to_the_first_max_like_pytorch(rng, pool_size, stride):
    torch = pytest.importorskip("torch")
    x = rng.integers(0, 2, size=(2, 2, 6, 6)).astype(np.float64)  # many ties
    x[0, 0] = 1.0  # every window of this channel is one big tie
    _, model = built(MaxPool2D, (2, 6, 6), pool_size, stride)
    a = model.forward(x, training=True)
    dout = rng.normal(size=a.shape)
    dx = model.backward_from(dout)

    xt = torch.from_numpy(x).requires_grad_()
    torch.nn.functional.max_pool2d(xt, pool_size, stride).backward(torch.from_numpy(dout))
    # same routing; overlapping windows may add shared gradients in another order
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert np.array_equal(dx != 0, xt.grad.numpy() != 0)
    if stride is None:  # the whole gradient of each window sits at its top-left corner
        np.testing.assert_array_equal(dx[0, 0, ::2, ::2], dout[0, 0])
        assert np.count_nonzero(dx[0, 0]) == dout[0, 0].size


def test_max_pool_by_hand():
    x = np.array([[1.0, 2.0, 0.0], [4.0, 3.0, 9.0], [5.0, 6.0, 7.0]]).reshape(1, 1, 3, 3)
    _, model = built(MaxPool2D, (1, 3, 3), 2, 1)
    np.testing.assert_array_equal(model.forward(x, training=True)[0, 0], [[4, 9], [6, 9]])
    dx = model.backward_from(np.array([[[[1.0, 10.0], [100.0, 1000.0]]]]))
    # 9 is the max of both right-hand windows: its gradient is the sum 10 + 1000
    np.testing.assert_array_equal(dx[0, 0], [[0, 0, 0], [1, 0, 1010], [0, 100, 0]])


def test_avg_pool_by_hand():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    _, model = built(AvgPool2D, (1, 4, 4), 2)
    np.testing.assert_array_equal(model.forward(x, training=True)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    dx = model.backward_from(np.full((1, 1, 2, 2), 4.0))
    np.testing.assert_array_equal(dx, np.ones((1, 1, 4, 4)))


@pytest.mark.parametrize("pool", POOLS)
def test_output_shape_floors_like_pytorch(pool):
    model = Sequential([Conv2D(8, 3), pool(2)], input_shape=(1, 28, 28))
    assert model.output_shape == (8, 13, 13)
    assert "(None, 8, 13, 13)" in model.summary()
    assert Sequential([pool(3, 2)], input_shape=(2, 7, 6)).output_shape == (2, 3, 2)
    assert Sequential([pool((2, 3), 1)], input_shape=(2, 7, 6)).output_shape == (2, 6, 4)


@pytest.mark.parametrize("pool", POOLS)
def test_float32_stays_float32_in_both_modes(rng, pool):
    _, model = built(pool, (3, 6, 6), 2, dtype="float32")
    x = rng.normal(size=(2, 3, 6, 6)).astype(np.float32)
    for training in (True, False):
        a = model.forward(x, training=training)
        dx = model.backward_from(np.ones_like(a))
        assert a.dtype == dx.dtype == np.float32
        assert a.shape == (2, 3, 3, 3) and dx.shape == x.shape


@pytest.mark.parametrize("pool", POOLS)
def test_config_round_trip(pool):
    layer = pool((2, 3), 1, name="p")
    rebuilt = layer_from_config(layer.get_config())
    assert type(rebuilt) is pool and rebuilt.get_config() == layer.get_config()
    assert pool(3).stride == (3, 3)  # the stride defaults to the pool size
    assert layer_from_config({"type": pool.type_name}).pool_size == (2, 2)


@pytest.mark.parametrize("pool", POOLS)
def test_flat_input_is_an_error(pool):
    with pytest.raises(
        ValueError, match=r"expects input \(channels, height, width\), got \(784,\)"
    ):
        Sequential([pool(2)], input_shape=(784,))


@pytest.mark.parametrize("pool", POOLS)
def test_pool_larger_than_input(pool):
    with pytest.raises(ValueError, match=r"'p': pool 3x3 is larger than its input 2x5"):
        Sequential([pool(3, name="p")], input_shape=(1, 2, 5))


@pytest.mark.parametrize("pool", POOLS)
def test_wrong_input_shape_at_forward(pool):
    layer, _ = built(pool, (1, 4, 4), 2)
    with pytest.raises(ValueError, match=r"\(batch, 1, 4, 4\), got \(2, 1, 4, 5\)"):
        layer.forward(np.zeros((2, 1, 4, 5)))


@pytest.mark.parametrize("pool", POOLS)
def test_backward_before_forward(pool):
    layer, _ = built(pool, (1, 4, 4), 2)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pool_size": 0}, "pool_size must be an integer >= 1"),
        ({"pool_size": "2"}, "pool_size must be an integer >= 1"),
        ({"stride": (1, 0)}, "stride must be an integer >= 1"),
    ],
)
def test_invalid_arguments(pool, kwargs, message):
    with pytest.raises(ValueError, match=f"{pool.__name__}: {message}"):
        pool(**kwargs)
