"""Preprocessing: raw uint8 images (n, h, w) to network inputs, replayable from a model file.

The rule a user relies on: statistics are learned from the TRAINING images only and then
applied unchanged to validation, test and new images.
"""

import json

import numpy as np
import pytest

from chainrule.data.preprocessing import Preprocessing


def images(n=6, low=0, high=256, seed=0, size=(28, 28)):
    rng = np.random.default_rng(seed)
    batch = rng.integers(low, high, size=(n, *size), dtype=np.uint8)
    batch[0, 0, 0], batch[0, 0, 1] = low, high - 1  # make sure both ends occur
    return batch


def test_scale_maps_uint8_to_the_unit_interval_in_float32():
    raw = images()
    x = Preprocessing("scale").fit(raw).transform(raw)
    assert x.dtype == np.float32
    assert (x.min(), x.max()) == (0.0, 1.0)
    np.testing.assert_allclose(x, raw.reshape(6, -1) / 255.0, rtol=1e-6)


def test_standardize_uses_the_training_statistics_for_every_other_array():
    """Test images are shifted and scaled with the training mean and std, not their own."""
    train = images(low=0, high=100, seed=0)
    other = images(low=100, high=256, seed=1)
    preprocessing = Preprocessing("standardize").fit(train)

    x_train = preprocessing.transform(train)
    assert x_train.mean() == pytest.approx(0.0, abs=1e-5)
    assert x_train.std() == pytest.approx(1.0, rel=1e-5)

    mean, std = train.astype(np.float64).mean(), train.astype(np.float64).std()
    expected = (other.reshape(6, -1) - mean) / std
    x_other = preprocessing.transform(other)
    np.testing.assert_allclose(x_other, expected, rtol=1e-5, atol=1e-5)
    assert x_other.mean() > 1.0  # brighter images stay brighter: not re-centred


def test_none_keeps_raw_pixel_values_as_floats():
    raw = images()
    x = Preprocessing("none").fit(raw).transform(raw)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, raw.reshape(6, -1))


def test_flat_and_image_shapes():
    """flat feeds Dense layers (n, h·w); image feeds convolutions (n, 1, h, w)."""
    raw = images()
    flat = Preprocessing(shape="flat").fit(raw)
    image = Preprocessing(shape="image").fit(raw)
    assert flat.input_shape == (784,)
    assert image.input_shape == (1, 28, 28)
    assert flat.transform(raw).shape == (6, 784)
    assert image.transform(raw).shape == (6, 1, 28, 28)
    np.testing.assert_array_equal(image.transform(raw).reshape(6, -1), flat.transform(raw))


def test_fit_learns_the_image_size():
    raw = images(size=(8, 6))
    preprocessing = Preprocessing(shape="image").fit(raw)
    assert preprocessing.image_shape == (8, 6)
    assert preprocessing.input_shape == (1, 8, 6)


def test_to_dict_and_from_dict_replay_the_same_transform():
    """What a model file stores (via JSON) reproduces the inputs exactly."""
    train, new = images(seed=0), images(seed=1)
    for kind in ("scale", "standardize", "none"):
        for shape in ("flat", "image"):
            original = Preprocessing(kind, shape).fit(train)
            stored = json.loads(json.dumps(original.to_dict()))
            restored = Preprocessing.from_dict(stored)
            assert restored.to_dict() == original.to_dict()
            np.testing.assert_array_equal(restored.transform(new), original.transform(new))


def test_images_of_another_size_are_rejected_naming_both_shapes():
    preprocessing = Preprocessing().fit(images())
    with pytest.raises(
        ValueError, match=r"expected images of shape \(n, 28, 28\), got \(3, 20, 20\)"
    ):
        preprocessing.transform(np.zeros((3, 20, 20), np.uint8))


def test_fit_rejects_what_is_neither_images_nor_a_table():
    for shape in [(4,), (4, 1, 28, 28), (0, 28, 28), (0, 3)]:
        with pytest.raises(ValueError, match=r"grey images \(n, h, w\) or a table"):
            Preprocessing().fit(np.zeros(shape, np.uint8))


# --- tables ----------------------------------------------------------------------------------


def table(n=50, seed=0):
    rng = np.random.default_rng(seed)
    # Columns in very different units: what per-feature statistics are for.
    return np.column_stack([rng.normal(5.0, 2.0, n), rng.uniform(-1000, 3000, n), np.full(n, 7.0)])


def test_a_table_is_scaled_feature_by_feature_to_the_unit_interval_with_training_extremes():
    train, test = table(), table(seed=1)
    preprocessing = Preprocessing("scale").fit(train)
    assert not preprocessing.is_images and preprocessing.input_shape == (3,)
    x = preprocessing.transform(train)
    assert x.dtype == np.float32 and x.shape == (50, 3)
    np.testing.assert_allclose(x[:, :2].min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(x[:, :2].max(axis=0), 1.0, atol=1e-6)
    np.testing.assert_array_equal(x[:, 2], 0.0)  # a constant column is only shifted
    low, high = train.min(axis=0), train.max(axis=0)
    expected = (test[:, :2] - low[:2]) / (high[:2] - low[:2])
    np.testing.assert_allclose(preprocessing.transform(test)[:, :2], expected, rtol=1e-5)


def test_a_table_is_standardized_per_feature():
    train = table()
    x = Preprocessing("standardize").fit(train).transform(train, np.float64)
    np.testing.assert_allclose(x[:, :2].mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(x[:, :2].std(axis=0), 1.0, rtol=1e-9)


def test_a_table_s_statistics_replay_from_json():
    train, test = table(), table(seed=2)
    for kind in ("scale", "standardize", "none"):
        fitted = Preprocessing(kind).fit(train)
        stored = json.loads(json.dumps(fitted.to_dict()))
        assert stored["input"] == "table" and stored["features"] == 3
        replayed = Preprocessing.from_dict(stored)
        np.testing.assert_array_equal(replayed.transform(test), fitted.transform(test))
        assert replayed.describe_input() == "3 features"


def test_a_table_of_another_width_or_as_images_is_refused():
    preprocessing = Preprocessing("scale").fit(table())
    with pytest.raises(ValueError, match=r"expected a table of 3 features \(n, 3\), got shape"):
        preprocessing.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="data.shape: image needs images"):
        Preprocessing("scale", "image").fit(table())


def test_model_files_written_before_tables_still_read_as_images():
    old = {"kind": "scale", "shape": "flat", "image_shape": [28, 28], "standardizer": None}
    preprocessing = Preprocessing.from_dict(old)
    assert preprocessing.is_images and preprocessing.input_shape == (784,)


def test_unknown_kind_or_shape_lists_the_valid_ones():
    with pytest.raises(ValueError, match="must be one of scale, standardize, none, got 'whiten'"):
        Preprocessing(kind="whiten")
    with pytest.raises(ValueError, match="shape must be one of flat, image, got 'square'"):
        Preprocessing(shape="square")


def test_standardize_before_fit_is_an_error():
    with pytest.raises(RuntimeError, match="before fit"):
        Preprocessing("standardize").transform(images())


def test_an_incomplete_stored_preprocessing_is_rejected():
    with pytest.raises(ValueError, match="stored preprocessing is incomplete"):
        Preprocessing.from_dict({"kind": "scale"})
