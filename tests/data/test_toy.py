"""The built-in 2-D datasets: shapes, balance, seeding, the geometry each promises, errors."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.data import TOY_DATASETS, toy_class_names, toy_dataset


@pytest.mark.parametrize("name", list(TOY_DATASETS))
def test_every_set_gives_balanced_float_points_and_int_labels(name):
    x, y = toy_dataset(name, n=101, seed=3)
    classes = len(toy_class_names(name))
    assert x.shape == (101, 2) and x.dtype == np.float32
    assert y.shape == (101,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=classes)
    assert counts.size == classes and counts.max() - counts.min() <= 1
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize("name", list(TOY_DATASETS))
def test_same_seed_same_points_other_seed_other_points(name):
    x1, y1 = toy_dataset(name, seed=7)
    x2, y2 = toy_dataset(name, seed=7)
    x3, _ = toy_dataset(name, seed=8)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


def test_labels_are_shuffled_not_grouped():
    _, y = toy_dataset("moons", n=200, seed=0)
    assert np.count_nonzero(np.diff(y)) > 50  # grouped labels would change once


def test_defaults_are_what_toy_dataset_uses():
    for name, toy in TOY_DATASETS.items():
        x, _ = toy_dataset(name)
        assert len(x) == toy.defaults["n"]
        assert {"n", "noise"} <= set(toy.defaults)


def test_xor_without_noise_is_labelled_by_the_sign_of_the_product():
    x, y = toy_dataset("xor", n=300, noise=0.0, margin=0.2, seed=1)
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))
    assert np.abs(x).min() >= 0.2 - 1e-6


def test_circles_without_noise_lie_on_their_two_radii():
    x, y = toy_dataset("circles", n=200, noise=0.0, factor=0.3)
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, atol=1e-6)


def test_moons_without_noise_lie_on_two_unit_half_circles():
    x, y = toy_dataset("moons", n=200, noise=0.0)
    upper_centre, lower_centre = np.array([-0.5, -0.25]), np.array([0.5, 0.25])
    np.testing.assert_allclose(np.linalg.norm(x[y == 0] - upper_centre, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(x[y == 1] - lower_centre, axis=1), 1.0, atol=1e-6)


def test_spirals_arm_count_and_radius():
    x, y = toy_dataset("spirals", n=300, noise=0.0, classes=3)
    assert set(np.unique(y)) == {0, 1, 2}
    assert np.hypot(x[:, 0], x[:, 1]).max() <= 1.0 + 1e-6


def test_blobs_have_one_centre_per_class_with_the_noise_as_spread():
    x, y = toy_dataset("blobs", n=3000, noise=0.2, centers=4, seed=2)
    for k in range(4):
        angle = 2 * np.pi * k / 4 + np.pi / 4
        centre = np.array([np.cos(angle), np.sin(angle)])
        np.testing.assert_allclose(x[y == k].mean(axis=0), centre, atol=0.03)
        np.testing.assert_allclose(x[y == k].std(axis=0), 0.2, rtol=0.1)


def test_noise_is_the_std_of_the_offset_from_the_clean_points():
    clean, _ = toy_dataset("circles", n=4000, noise=0.0, seed=5)
    noisy, _ = toy_dataset("circles", n=4000, noise=0.1, seed=5)
    # Same seed: the same clean points, then noise drawn after them.
    np.testing.assert_allclose((noisy - clean).std(), 0.1, rtol=0.05)


def test_class_names_follow_the_settings():
    assert toy_class_names("moons") == ("0", "1")
    assert toy_class_names("blobs", centers=5) == ("0", "1", "2", "3", "4")


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("moon", {}, "unknown toy dataset 'moon'; built-in 2-D datasets: xor, moons"),
        ("moons", {"factor": 0.5}, "'moons' has no setting 'factor'; its settings: n, noise, seed"),
        ("moons", {"n": 0}, "n must be an integer from 4"),
        ("moons", {"noise": -0.1}, "noise must be a number >= 0"),
        ("moons", {"noise": "lots"}, "noise must be a number"),
        ("circles", {"factor": 1.0}, "factor must be a number in [0.0, 0.99]"),
        ("blobs", {"centers": 4, "n": 7}, "n must be at least 8 (two points per class)"),
        ("xor", {"seed": -1}, "seed must be an integer >= 0"),
        ("spirals", {"classes": True}, "classes must be an integer"),
    ],
)
def test_bad_settings_are_named(name, settings, message):
    with pytest.raises(ValueError) as error:
        toy_dataset(name, **settings)
    assert message in str(error.value)
