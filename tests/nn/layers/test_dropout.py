"""Inverted dropout: identity at inference, scaled mask in training, seeded."""

import numpy as np
import pytest

from chainrule.nn.gradcheck import gradcheck_layer
from chainrule.nn.layers import Dense, Dropout
from chainrule.nn.model import Sequential


def test_identity_at_inference(rng):
    x = rng.normal(size=(3, 4))
    model = Sequential([Dropout(0.5)], input_shape=(4,), dtype="float64")
    np.testing.assert_array_equal(model.forward(x, training=False), x)


def test_training_keeps_the_expected_value_and_drops_about_rate():
    x = np.ones((200, 500))
    model = Sequential([Dropout(0.3)], input_shape=(500,), dtype="float64")
    out = model.forward(x, training=True)
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / 0.7])
    assert abs(np.mean(out == 0) - 0.3) < 0.01
    assert abs(out.mean() - 1.0) < 0.01


def test_backward_uses_the_same_mask(rng):
    model = Sequential([Dropout(0.5)], input_shape=(6,), dtype="float64")
    out = model.forward(np.ones((2, 6)), training=True)
    dout = rng.normal(size=(2, 6))
    np.testing.assert_allclose(model.backward_from(dout), dout * out)


def test_gradients_match_central_differences(rng):
    assert gradcheck_layer(Dropout(0.4), rng.normal(size=(3, 5))).passed


def test_same_seed_same_masks():
    def masks(seed):
        model = Sequential([Dense(8), Dropout(0.5)], input_shape=(4,), seed=seed)
        return model.forward(np.ones((3, 4), np.float32), training=True) == 0

    np.testing.assert_array_equal(masks(7), masks(7))
    assert not np.array_equal(masks(7), masks(8))


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2, "half"])
def test_rate_must_be_a_probability_below_one(rate):
    with pytest.raises(ValueError, match=r"rate .* \[0, 1\)"):
        Dropout(rate)
