"""Preprocessing: scaling, train-only standardization, one-hot, stratified split, augmentation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chainrule.data.idx import read_idx
from chainrule.data.transforms import (
    MinMaxScaler,
    Standardizer,
    _warp,
    augment,
    flatten,
    one_hot,
    scale,
    to_images,
    train_test_split,
    train_val_split,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def mnist_test_labels() -> np.ndarray:
    path = SHARED_DATA / "mnist" / "t10k-labels-idx1-ubyte.gz"
    if not path.is_file():
        pytest.skip(f"offline dataset file not available: {path}")
    return read_idx(path)


# --- scale ------------------------------------------------------------------------------------


def test_scale_maps_bytes_to_unit_interval():
    pixels = np.array([[0, 51, 255]], dtype=np.uint8)
    scaled = scale(pixels)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, [[0.0, 0.2, 1.0]], rtol=1e-6)
    assert scale(pixels, dtype=np.float64).dtype == np.float64


def test_scale_refuses_floats_to_avoid_scaling_twice():
    with pytest.raises(TypeError, match="expects uint8"):
        scale(np.zeros((2, 2), dtype=np.float32))


# --- Standardizer -----------------------------------------------------------------------------


def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    x_train = rng.normal(10.0, 2.0, size=(500, 4, 4))
    x_test = rng.normal(30.0, 2.0, size=(100, 4, 4))  # deliberately shifted
    standardizer = Standardizer().fit(x_train)
    assert standardizer.mean == pytest.approx(x_train.mean())
    assert standardizer.std == pytest.approx(x_train.std())
    train_out = standardizer.transform(x_train)
    test_out = standardizer.transform(x_test)
    assert train_out.dtype == np.float32
    assert train_out.mean() == pytest.approx(0.0, abs=1e-5)
    assert train_out.std() == pytest.approx(1.0, abs=1e-5)
    # The test set is expressed in training units, so its shift stays visible (~ +10 std).
    assert test_out.mean() == pytest.approx((x_test.mean() - x_train.mean()) / x_train.std())


def test_standardizer_works_on_uint8_without_a_float64_copy():
    pixels = np.random.default_rng(1).integers(0, 256, size=(9_000, 28, 28), dtype=np.uint8)
    standardizer = Standardizer().fit(pixels)
    assert standardizer.mean == pytest.approx(pixels.mean(dtype=np.float64), rel=1e-12)
    assert standardizer.std == pytest.approx(pixels.std(dtype=np.float64), rel=1e-10)


def test_per_pixel_statistics_guard_constant_pixels():
    x_train = np.random.default_rng(2).uniform(size=(50, 3, 3))
    x_train[:, 0, 0] = 0.0  # a border pixel that is always black, as in MNIST
    standardizer = Standardizer(per_pixel=True).fit(x_train)
    assert standardizer.std.shape == (3, 3)
    assert standardizer.std[0, 0] == 1.0  # std 0 < epsilon -> replaced by 1
    np.testing.assert_allclose(standardizer.mean, x_train.mean(axis=0))
    x_test = np.ones((2, 3, 3))
    out = standardizer.transform(x_test)
    assert np.all(np.isfinite(out))
    assert out[0, 0, 0] == pytest.approx(1.0)  # centred only, not blown up by 1/epsilon


def test_standardizer_round_trips_through_json():
    x_train = np.random.default_rng(3).uniform(size=(30, 2, 2))
    for per_pixel in (False, True):
        fitted = Standardizer(per_pixel=per_pixel).fit(x_train)
        restored = Standardizer.from_dict(json.loads(json.dumps(fitted.to_dict())))
        np.testing.assert_array_equal(restored.transform(x_train), fitted.transform(x_train))


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="before fit"):
        Standardizer().transform(np.zeros((1, 2)))
    fitted = Standardizer(per_pixel=True).fit(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"fitted on samples of shape \(4,\)"):
        fitted.transform(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="missing keys"):
        Standardizer.from_dict({"mean": 0.0})


# --- one_hot ----------------------------------------------------------------------------------


def test_one_hot_rows():
    targets = one_hot(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(targets, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert targets.dtype == np.float32
    assert one_hot(np.array([1.0, 0.0]), 2, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("bad", [10, -1])
def test_one_hot_rejects_labels_outside_the_classes(bad):
    labels = np.array([0, 3, bad, 9])
    with pytest.raises(ValueError) as error:
        one_hot(labels, 10)
    assert str(error.value) == (
        f"one_hot: label {bad} is outside the class range 0..9 "
        "(at index 2; 1 label(s) outside, 10 classes)"
    )


def test_one_hot_rejects_fractional_and_matrix_labels():
    with pytest.raises(ValueError, match="must be integers, got dtype float64 with fractions"):
        one_hot(np.array([0.5]), 2)
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        one_hot(np.zeros((2, 2), dtype=int), 2)


# --- train_val_split --------------------------------------------------------------------------


def test_stratified_split_keeps_class_proportions():
    labels = np.repeat(np.arange(3), [600, 300, 100])  # imbalanced on purpose
    x = np.zeros((len(labels), 2))
    train_idx, val_idx = train_val_split(x, labels, 0.2, rng=0)
    assert np.bincount(labels[val_idx]).tolist() == [120, 60, 20]
    assert np.bincount(labels[train_idx]).tolist() == [480, 240, 80]
    assert np.intersect1d(train_idx, val_idx).size == 0
    assert np.union1d(train_idx, val_idx).size == len(labels)


def test_stratified_split_on_real_mnist_labels():
    labels = mnist_test_labels()
    _, val_idx = train_val_split(labels, labels, 1 / 6, rng=np.random.default_rng(5))
    assert len(val_idx) == round(len(labels) / 6)
    expected = np.bincount(labels) / 6
    assert np.all(np.abs(np.bincount(labels[val_idx]) - expected) <= 1)  # floor or ceiling


def test_split_is_reproducible_by_seed():
    labels = np.arange(200) % 7
    first = train_val_split(labels, labels, 0.25, rng=42)
    again = train_val_split(labels, labels, 0.25, rng=np.random.default_rng(42))
    other = train_val_split(labels, labels, 0.25, rng=43)
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_fraction_must_be_inside_zero_one(fraction):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        train_val_split(np.zeros(10), np.zeros(10), fraction, rng=0)


def test_split_needs_enough_samples():
    with pytest.raises(ValueError, match="gives 0 validation samples"):
        train_val_split(np.zeros(3), np.arange(3), 0.1, rng=0)
    with pytest.raises(ValueError, match="x has 4 samples but y has 3"):
        train_val_split(np.zeros(4), np.arange(3), 0.5, rng=0)


def test_train_test_split_returns_the_rows_of_the_stratified_split():
    labels = np.repeat(np.arange(2), [60, 40])
    x = np.arange(200, dtype=np.float32).reshape(100, 2)
    x_train, y_train, x_test, y_test = train_test_split(x, labels, 0.25, rng=3)
    train_idx, test_idx = train_val_split(x, labels, 0.25, rng=3)
    np.testing.assert_array_equal(x_test, x[test_idx])
    np.testing.assert_array_equal(y_train, labels[train_idx])
    assert len(x_train) == 75 and np.bincount(y_test).tolist() == [15, 10]


# --- shapes -----------------------------------------------------------------------------------


def test_flatten_and_to_images_are_inverse_views():
    images = np.arange(2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28)
    flat = flatten(images)
    assert flat.shape == (2, 784)
    assert np.shares_memory(flat, images)
    back = to_images(flat)
    assert back.shape == (2, 1, 28, 28)
    np.testing.assert_array_equal(back[:, 0], images)
    assert flatten(back).shape == (2, 784)
    with pytest.raises(ValueError, match=r"expects shape \(n, 784\)"):
        to_images(np.zeros((2, 785)))


# --- augment ----------------------------------------------------------------------------------


def test_augment_keeps_shape_and_dtype():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    out = augment(images, rng)
    assert out.shape == images.shape and out.dtype == np.uint8
    channels = rng.uniform(size=(5, 3, 28, 28)).astype(np.float32)
    out = augment(channels, rng, max_shift=3, max_rotation_degrees=15)
    assert out.shape == channels.shape and out.dtype == np.float32


def test_augment_without_shift_or_rotation_is_the_identity():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(augment(images, rng, 0, 0), images)
    floats = rng.uniform(size=(4, 1, 28, 28))
    np.testing.assert_array_equal(augment(floats, rng, max_shift=0, max_rotation_degrees=0), floats)


def test_augment_is_reproducible_and_differs_per_image():
    images = np.tile(np.eye(28, dtype=np.uint8) * 255, (8, 1, 1))
    first = augment(images, np.random.default_rng(7))
    np.testing.assert_array_equal(first, augment(images, np.random.default_rng(7)))
    assert len({first[i].tobytes() for i in range(8)}) > 1


def test_shift_moves_content_by_whole_pixels():
    image = np.zeros((1, 1, 5, 5), dtype=np.uint8)
    image[0, 0, 2, 2] = 200
    moved = _warp(image, np.array([[1, -2]]), np.array([0.0]), 0.0, np.dtype(np.uint8))
    assert moved[0, 0, 3, 0] == 200  # down 1, left 2
    assert moved.sum() == 200


def test_quarter_turn_matches_numpy_rot90():
    image = np.arange(25, dtype=np.uint8).reshape(1, 1, 5, 5)
    turned = _warp(image, np.zeros((1, 2), dtype=int), np.array([np.pi / 2]), 0.0, image.dtype)
    np.testing.assert_array_equal(turned[0, 0], np.rot90(image[0, 0], k=-1))  # clockwise


def test_augment_rejects_flat_inputs():
    with pytest.raises(ValueError, match="use to_images"):
        augment(np.zeros((3, 784)), rng=0)


# --- min-max scaling of tables -------------------------------------------------------------------


def test_min_max_scaler_maps_each_training_column_onto_zero_one():
    train = np.array([[0.0, 10.0, 3.0], [4.0, 30.0, 3.0], [2.0, 20.0, 3.0]])
    scaler = MinMaxScaler().fit(train)
    np.testing.assert_allclose(scaler.transform(train), [[0, 0, 0], [1, 1, 0], [0.5, 0.5, 0]])
    # New points outside the training range are not clipped: they are new.
    np.testing.assert_allclose(scaler.transform(np.array([[8.0, 0.0, 4.0]])), [[2, -0.5, 1]])


def test_min_max_scaler_round_trips_and_checks_its_input():
    scaler = MinMaxScaler().fit(np.array([[1.0, 2.0], [3.0, 5.0]]))
    again = MinMaxScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    x = np.array([[2.0, 3.0]])
    np.testing.assert_array_equal(again.transform(x), scaler.transform(x))
    with pytest.raises(ValueError, match="fitted on 2 features, got a batch of shape"):
        scaler.transform(np.zeros((1, 3)))
    with pytest.raises(RuntimeError, match="before fit"):
        MinMaxScaler().transform(x)
    with pytest.raises(ValueError, match="ranges must be positive"):
        MinMaxScaler.from_dict({"minimum": [0.0], "range": [0.0]})
