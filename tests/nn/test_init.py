"""Initializers: the variance each one promises, seeded reproducibility, clear errors."""

import numpy as np
import pytest

from chainrule.nn.init import INITIALIZERS, get_initializer
from chainrule.nn.layers import Dense, ReLU
from chainrule.nn.model import Sequential

FAN_IN, FAN_OUT = 400, 200
SHAPE = (FAN_IN, FAN_OUT)


@pytest.mark.parametrize(
    ("name", "expected_std"),
    [
        ("glorot_normal", np.sqrt(2 / (FAN_IN + FAN_OUT))),
        ("glorot_uniform", np.sqrt(2 / (FAN_IN + FAN_OUT))),
        ("he_normal", np.sqrt(2 / FAN_IN)),
        ("he_uniform", np.sqrt(2 / FAN_IN)),
        ("lecun_normal", np.sqrt(1 / FAN_IN)),
        ("lecun_uniform", np.sqrt(1 / FAN_IN)),
        ({"name": "normal", "std": 0.05}, 0.05),
        ({"name": "uniform", "limit": 0.3}, 0.3 / np.sqrt(3)),
    ],
)
def test_standard_deviation_matches_the_formula(name, expected_std):
    weights = get_initializer(name)(SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(0))
    assert weights.shape == SHAPE
    assert abs(weights.mean()) < 0.05 * expected_std + 1e-3
    assert weights.std() == pytest.approx(expected_std, rel=0.02)


def test_uniform_limits_are_respected():
    limit = np.sqrt(6 / FAN_IN)
    weights = get_initializer("he_uniform")(SHAPE, FAN_IN, FAN_OUT, np.random.default_rng(0))
    assert weights.max() <= limit
    assert weights.min() >= -limit
    assert weights.max() > 0.99 * limit


def test_constant_and_zeros():
    rng = np.random.default_rng(0)
    assert np.all(get_initializer("zeros")((2, 2), 2, 2, rng) == 0)
    assert np.all(get_initializer({"name": "constant", "value": 0.5})((3,), 1, 3, rng) == 0.5)


def test_aliases_resolve_to_the_same_initializer():
    assert get_initializer("xavier_normal") == get_initializer("glorot_normal")
    assert get_initializer("kaiming_normal") == get_initializer("he_normal")
    assert get_initializer("random") == get_initializer("normal")


def test_same_seed_identical_weights_different_seed_different():
    def weights(seed):
        layers = [Dense(16, kernel_initializer="he_normal"), ReLU(), Dense(3)]
        return Sequential(layers, input_shape=(8,), seed=seed).params.data.copy()

    np.testing.assert_array_equal(weights(3), weights(3))
    assert not np.array_equal(weights(3), weights(4))


def test_every_registered_initializer_round_trips_through_its_config():
    for name in INITIALIZERS.names():
        initializer = get_initializer(name)
        assert get_initializer(initializer.get_config()) == initializer


def test_bad_names_and_arguments_are_clear():
    with pytest.raises(ValueError, match="unknown initializer 'glorot'.*glorot_normal"):
        get_initializer("glorot")
    with pytest.raises(ValueError, match="'normal' got unknown argument.*sigma.*std"):
        get_initializer({"name": "normal", "sigma": 1})
    with pytest.raises(ValueError, match="initializer 'normal': std must be a number > 0, got -1"):
        get_initializer({"name": "normal", "std": -1})
