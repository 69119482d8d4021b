"""chainrule.nn.kernels: each compiled kernel equals its NumPy reference to the last bit, and
everything runs (the same numbers) with the kernels switched off."""

import os
import subprocess
import sys

import numpy as np
import pytest

from chainrule.nn import kernels
from chainrule.nn.layers import ReLU
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
from chainrule.nn.layers import Dense, Softmax
from chainrule.nn.model import Sequential
from chainrule.nn.optim import Adam
from chainrule.training.trainer import Trainer

rng = np.random.default_rng(1234)
x = rng.standard_normal((600, 12)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
# ReLU's 128 x 64 values per batch: over kernels.MIN_SIZE, so its kernel runs too
model = Sequential([Dense(64, activation="relu"), Dense(3), Softmax()],
                   loss="categorical_crossentropy", input_shape=(12,), seed=3)
with kernels.use_kernels(sys.argv[1] == "on"):
    Trainer(model, Adam(1e-2), epochs=3, batch_size=128, progress=False).fit(x, y)
print(kernels.available(), hashlib.sha256(model.params.data.tobytes()).hexdigest())
"""


def train(kernels_on: bool, without_numba: bool = False) -> list[str]:
    """Train a small network in a fresh process; returns (Numba available, weights' hash)."""
    code = ("import sys; sys.modules['numba'] = None\n" if without_numba else "") + TRAIN
    result = subprocess.run(
        [sys.executable, "-c", code, "on" if kernels_on else "off"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.split()


def test_training_gives_the_same_weights_with_kernels_without_them_and_without_numba():
    compiled, reference, missing = train(True), train(False), train(False, without_numba=True)
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
    assert result.stdout.split() == ["[2,", "2]"]  # Adam's and ReLU's, float32 and float64


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
