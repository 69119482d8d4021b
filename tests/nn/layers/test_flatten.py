"""Flatten: (m, c, h, w) -> (m, c·h·w) and back."""

import numpy as np
import pytest

from chainrule.nn.gradcheck import gradcheck_layer
from chainrule.nn.layers import Dense, Flatten
from chainrule.nn.model import Sequential


def test_flattens_images_and_restores_the_gradient_shape(rng):
    model = Sequential([Flatten(), Dense(3)], input_shape=(1, 4, 4), dtype="float64")
    x = rng.normal(size=(2, 1, 4, 4))
    out = model.forward(x, training=True)
    assert out.shape == (2, 3)
    dx = model.backward_from(np.ones((2, 3)))
    assert dx.shape == x.shape
    assert model.layers[0].output_shape == (16,)


def test_gradients_match_central_differences(rng):
    assert gradcheck_layer(Flatten(), rng.normal(size=(2, 3, 2))).passed


def test_wrong_image_shape_is_named():
    model = Sequential([Flatten()], input_shape=(1, 28, 28))
    with pytest.raises(ValueError, match=r"\(batch, 1, 28, 28\)"):
        model.layers[0].forward(np.zeros((2, 1, 27, 28)))
