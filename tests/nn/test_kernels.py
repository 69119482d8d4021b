"""chainrule.nn.kernels: each compiled kernel equals its NumPy reference to the last bit, and
everything runs (the same numbers) with the kernels switched off."""

import os
import subprocess
import sys

import numpy as np
import pytest

from chainrule.nn import kernels
from chainrule.nn.layers import Conv2D, MaxPool2D, ReLU
from chainrule.nn.optim import Adam, AdamW

numba = pytest.importorskip("numba", reason="the compiled path needs Numba (chainrule[fast])")

DTYPES = [np.float32, np.float64]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal to the last bit: the same values, NaNs in the same places, the same signs of 0."""
    return a.dtype == b.dtype and np.array_equal(a.view(np.uint8), b.view(np.uint8))


def gradients(rng, size, dtype, steps):
    """Gradients of many magnitudes (1e-30 to 1e2), with exact zeros (dead inputs)."""
    for _ in range(steps):
        g = rng.standard_normal(size) * 10.0 ** rng.integers(-30, 3, size)
        g[: size // 10] = 0
        yield g.astype(dtype)


def adam_run(optimizer, dtype, on: bool, steps: int = 40):
    rng = np.random.default_rng(7)
    size = 5003  # not a multiple of any vector width
    params = rng.standard_normal(size).astype(dtype)
    with kernels.use_kernels(on):
        for g in gradients(rng, size, dtype, steps):
            optimizer.step(params, g)
    return params, optimizer.scaled_m, optimizer.scaled_v


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", [lambda: Adam(1e-3), lambda: AdamW(3e-3, weight_decay=0.1)])
def test_adam_kernel_equals_the_ten_numpy_passes_to_the_last_bit(dtype, make):
    compiled = adam_run(make(), dtype, on=True)
    reference = adam_run(make(), dtype, on=False)
    assert all(same_bits(a, b) for a, b in zip(compiled, reference, strict=True))


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backward_kernel_equals_the_mask_product_to_the_last_bit(dtype, rng):
    z = rng.standard_normal((300, 33)).astype(dtype)  # over kernels.MIN_SIZE entries
    z[0, :4] = [0.0, -0.0, np.nan, np.inf]
    a = np.maximum(z, 0)
    dout = rng.standard_normal(a.shape).astype(dtype)
    dout[1, :3] = [-0.0, np.nan, -np.inf]  # signed zeros and NaNs must come out the same
    results = []
    for on in (True, False):
        layer = ReLU()
        layer.forward(z, training=True)
        with kernels.use_kernels(on), np.errstate(invalid="ignore"):  # 0·inf is NaN, as meant
            results.append(layer.backward(dout))
    assert same_bits(*results)


@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormal_flush_kernel_equals_the_masked_write_to_the_last_bit(dtype, rng):
    size = 20_011
    state = (rng.standard_normal(size) * 10.0 ** rng.integers(-330, 2, size)).astype(dtype)
    tiny = np.finfo(dtype).tiny
    state[:8] = [np.nan, -np.nan, np.inf, -0.0, tiny, -tiny, tiny / 2, -tiny / 4]
    results = []
    for on in (True, False):
        optimizer = Adam(1e-3)
        optimizer.step(np.zeros(size, dtype), np.zeros(size, dtype))  # allocates its buffers
        optimizer.scaled_m[...] = state
        optimizer.scaled_v[...] = np.abs(state[::-1])
        with kernels.use_kernels(on):
            optimizer._flush_subnormals()
        results += [optimizer.scaled_m, optimizer.scaled_v]
    assert same_bits(results[0], results[2]) and same_bits(results[1], results[3])
    flushed = results[0]
    assert np.count_nonzero((flushed == 0) & (state != 0)) > 0  # something was flushed
    assert not np.any((np.abs(flushed) < tiny) & (flushed != 0))


def awkward_images(rng, shape, dtype):
    """Images with ties (+0 and -0 after a ReLU), NaNs and infinities in their windows."""
    x = rng.standard_normal(shape).astype(dtype)
    x[x < -0.6] = 0.0
    x[(x > -0.6) & (x < -0.3)] = -0.0
    x.ravel()[::13] = np.nan
    x.ravel()[3::17] = -np.nan
    x.ravel()[5::19] = np.inf
    x.ravel()[7::23] = -np.inf
    x[0, 0, :2, :4] = [[-0.0, 0.0, 0.0, -0.0], [0.0, -0.0, -0.0, 0.0]]
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 2, 6, 8), (2, 3, 7, 9), (2, 4, 28, 28)])
def test_max_pool_kernels_equal_the_numpy_passes_to_the_last_bit(dtype, shape, rng):
    """2x2 windows moved by 2: the maxima, the argmax (ties to the first), NaN propagation
    and the routed gradient (odd sizes leave a row and a column no window covers)."""
    x = awkward_images(rng, shape, dtype)
    results = []
    for on in (True, False):
        layer = MaxPool2D(2)
        layer.build(shape[1:], rng)
        with kernels.use_kernels(on), np.errstate(invalid="ignore"):
            a = layer.forward(x, training=True)
            dout = awkward_images(np.random.default_rng(1), a.shape, dtype)
            results.append((a, layer._argmax, layer.backward(dout)))
    assert all(same_bits(*pair) for pair in zip(*results, strict=True))


def test_max_pool_takes_the_numpy_path_for_other_windows_and_strided_input(rng):
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    for layer, images in [(MaxPool2D(3), x), (MaxPool2D(2, stride=1), x),
                          (MaxPool2D(2), np.asfortranarray(x))]:  # fmt: skip
        layer.build(x.shape[1:], rng)
        results = []
        for on in (True, False):
            with kernels.use_kernels(on):
                results.append(layer.forward(images, training=True))
        assert same_bits(*results)
    assert not kernels.images_fit(np.asfortranarray(x)) and kernels.images_fit(x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("images", "filters", "kernel", "stride", "padding"),
    [((3, 2, 7, 9), 4, 3, 1, "same"), ((2, 3, 9, 8), 5, 3, 2, "same"),
     ((2, 2, 11, 10), 3, (3, 2), (2, 3), 1), ((4, 3, 8, 8), 2, 5, 1, "valid")],
)  # fmt: skip
def test_col2im_kernel_equals_the_strided_adds_to_the_last_bit(
    dtype, images, filters, kernel, stride, padding, rng
):
    layer = Conv2D(filters, kernel, stride=stride, padding=padding)
    layer.build(images[1:], rng)
    params = {"W": rng.standard_normal(layer.parameter_specs()["W"].shape).astype(dtype),
              "b": np.zeros(filters, dtype)}  # fmt: skip
    layer.bind(params, {name: np.zeros_like(value) for name, value in params.items()})
    z = layer.forward(rng.standard_normal(images).astype(dtype), training=True)
    dout = rng.standard_normal(z.shape).astype(dtype)
    dout.ravel()[::7] = -0.0
    results = []
    for on in (True, False):
        with kernels.use_kernels(on):
            results.append(layer._input_gradient(dout))
    assert same_bits(*results)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("images", "kernel", "stride", "padding", "bias"),
    [((3, 2, 7, 9), 3, 1, "same", True), ((2, 3, 9, 8), (2, 4), 1, "valid", False),
     ((2, 2, 11, 10), 3, 2, 1, True)],  # stride 2: NumPy's copy either way
)  # fmt: skip
def test_im2col_kernel_equals_the_window_copy(dtype, images, kernel, stride, padding, bias, rng):
    layer = Conv2D(4, kernel, stride=stride, padding=padding, use_bias=bias)
    layer.build(images[1:], rng)
    xp = layer._pad(awkward_images(rng, images, dtype))
    results = []
    for on in (True, False):
        with kernels.use_kernels(on):
            results.append(layer._im2col(xp))
    assert same_bits(*results)
    assert results[0].shape[1] == images[1] * np.prod(layer.kernel_size) + bias


def test_float16_arrays_take_the_numpy_path_instead_of_failing_in_numba(rng):
    """The kernels are compiled for float32 and float64; a layer or optimizer used on float16
    arrays computes with its NumPy reference, as it would without Numba."""
    x = (rng.standard_normal((4, 3, 64, 64)) - 0.2).astype(np.float16)
    results = []
    for on in (True, False):
        relu, pool = ReLU(), MaxPool2D(2)
        pool.build(x.shape[1:], rng)
        params = np.ones(20_000, np.float16)
        with kernels.use_kernels(on):
            a = pool.forward(relu.forward(x, training=True), training=True)
            dx = relu.backward(pool.backward(np.ones_like(a)))
            Adam(1e-2).step(params, np.full_like(params, 0.5))
        results.append((a, dx, params))
    assert all(same_bits(*pair) and pair[0].dtype == np.float16
               for pair in zip(*results, strict=True))  # fmt: skip


def test_relu_backward_takes_the_numpy_path_for_arrays_a_kernel_does_not_fit(rng):
    layer = ReLU()
    z = rng.standard_normal((300, 40)).astype(np.float32)
    layer.forward(z, training=True)
    dout = np.asfortranarray(rng.standard_normal((300, 40)).astype(np.float32))
    assert not kernels.fits(layer._cache, dout)
    assert not kernels.fits(layer._cache[:10], np.ascontiguousarray(dout[:10]))  # too small
    assert kernels.fits(layer._cache, np.ascontiguousarray(dout))
    expected = dout * (z > 0)
    with kernels.use_kernels(True):
        np.testing.assert_array_equal(layer.backward(dout), expected)


TRAIN = """
import hashlib, sys
import numpy as np
from chainrule.nn import kernels
from chainrule.nn.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Softmax
from chainrule.nn.model import Sequential
from chainrule.nn.optim import Adam
from chainrule.training.trainer import Trainer

rng = np.random.default_rng(1234)
if sys.argv[2] == "mlp":
    x = rng.standard_normal((600, 12)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    # ReLU's 128 x 64 values per batch: over kernels.MIN_SIZE, so its kernel runs too
    model = Sequential([Dense(64, activation="relu"), Dense(3), Softmax()],
                       loss="categorical_crossentropy", input_shape=(12,), seed=3)
else:  # the convolution's col2im and the 2x2 max pooling kernels
    x = rng.standard_normal((192, 1, 10, 10)).astype(np.float32)
    y = (x[:, 0, :5].sum(axis=(1, 2)) > 0).astype(np.int64)
    model = Sequential([Conv2D(4, 3, padding="same"), ReLU(), MaxPool2D(2),
                        Conv2D(8, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(2), Softmax()],
                       loss="categorical_crossentropy", input_shape=(1, 10, 10), seed=3)
with kernels.use_kernels(sys.argv[1] == "on"):
    Trainer(model, Adam(1e-2), epochs=3, batch_size=64, progress=False).fit(x, y)
print(kernels.available(), hashlib.sha256(model.params.data.tobytes()).hexdigest())
"""


def train(kernels_on: bool, without_numba: bool = False, network: str = "mlp") -> list[str]:
    """Train a small network (``mlp`` or ``cnn``) in a fresh process; returns (Numba
    available, weights' hash)."""
    code = ("import sys; sys.modules['numba'] = None\n" if without_numba else "") + TRAIN
    result = subprocess.run(
        [sys.executable, "-c", code, "on" if kernels_on else "off", network],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.split()


@pytest.mark.parametrize("network", ["mlp", "cnn"])
def test_training_gives_the_same_weights_with_kernels_without_them_and_without_numba(network):
    compiled, reference, missing = (train(True, network=network), train(False, network=network),
                                    train(False, without_numba=True, network=network))  # fmt: skip
    assert compiled[0] == reference[0] == "True" and missing[0] == "False"
    assert compiled[1] == reference[1] == missing[1]  # the same weights, to the last bit


def test_asking_for_kernels_without_numba_says_how_to_get_them():
    code = (
        "import sys; sys.modules['numba'] = None\n"
        "from chainrule.nn import kernels\n"
        "try:\n    kernels.use_kernels(True).__enter__()\n"
        "except RuntimeError as error:\n    print(error)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install 'chainrule[fast]'" in result.stdout


def test_use_kernels_restores_the_setting():
    before = kernels.enabled()
    with kernels.use_kernels(not before):
        assert kernels.enabled() is (not before)
    assert kernels.enabled() is before


def test_adam_runs_its_kernel_on_the_calling_thread_alone():
    with kernels.use_kernels(True):
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        Adam(1e-3).step(np.zeros(10, np.float32), np.ones(10, np.float32))
        assert numba.get_num_threads() == 1


def test_the_environment_variable_forces_the_numpy_path():
    code = "from chainrule.nn import kernels; print(kernels.available(), kernels.enabled())"
    for value, expected in [("numpy", "True False"), ("", "True True")]:
        env = {**os.environ, kernels.ENVIRONMENT_VARIABLE: value}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout.split() == expected.split()


def test_importing_chainrule_does_not_import_numba():
    code = "import sys, chainrule.nn.optim, chainrule.nn.layers; print('numba' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_warm_up_loads_every_kernel_for_both_dtypes_in_a_fresh_process():
    code = (
        "from chainrule.nn import kernels; kernels.warm_up(); "
        "print(sorted(len(k.signatures) for k in kernels._kernels.values()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # Adam's, ReLU's, the flush's, max pooling's two, col2im's and im2col's; both dtypes
    assert result.stdout.split() == ["[2,", "2,", "2,", "2,", "2,", "2,", "2]"]


def test_warm_up_does_nothing_with_the_kernels_off():
    code = (
        "import sys; from chainrule.nn import kernels; kernels.warm_up(); "
        "print(len(kernels._kernels), 'numba' in sys.modules)"
    )
    env = {**os.environ, kernels.ENVIRONMENT_VARIABLE: "numpy"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["0", "False"]
