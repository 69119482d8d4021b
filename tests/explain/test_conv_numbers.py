"""conv_example_state: the engine's numbers for one image, against loops written here."""

from __future__ import annotations

import numpy as np
import pytest
from worked_reference import CONV_MAXPOOL, CONV_STRIDED, correlate, load_raw, reference_loss

from chainrule.explain.conv_numbers import conv_example_state
from chainrule.explain.spec import load_spec, parse_spec
from chainrule.nn.gradcheck import numerical_gradient


@pytest.mark.parametrize("path", [CONV_MAXPOOL, CONV_STRIDED], ids=lambda p: p.name)
def test_forward_loss_and_gradients_match_loops_and_finite_differences(path):
    raw, spec = load_raw(path), load_spec(path)
    W, b = spec.weights(), spec.biases()
    state, grads = conv_example_state(spec, W, b)
    conv = raw["layers"][0]
    x = spec.x()[0].copy()
    np.testing.assert_allclose(
        state.z[0], correlate(x, W[0], b[0], conv["stride"], conv["padding"]), atol=1e-15
    )
    W1, b1 = W[0].copy(), b[0].copy()

    def loss() -> float:
        return reference_loss(raw, x, W1, b1)

    assert state.loss == pytest.approx(loss(), rel=1e-13)
    np.testing.assert_allclose(grads["W1"], numerical_gradient(loss, W1), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(grads["b1"], numerical_gradient(loss, b1), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(state.dL_dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-9)
    # the shapes the record keeps: maps (C, H, W), vectors for flatten and dense
    assert [a.shape for a in state.a] == [tuple(s) for s in spec.shapes[1:]]
    assert state.z[1] is None and state.z[2] is None  # pooling and flatten: no z
    assert grads["W4"].shape == tuple(np.shape(raw["layers"][3]["W"]))  # textbook layout


def test_max_pooling_routes_are_the_first_maximum_of_each_window():
    spec = load_spec(CONV_MAXPOOL)
    state, _ = conv_example_state(spec, spec.weights(), spec.biases())
    a1, dL_da2, dL_da1 = state.a[0], state.dL_da[1], state.dL_da[0]
    expected = np.zeros_like(a1)
    for c, i, j in np.ndindex(*dL_da2.shape):
        window = a1[c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
        p, q = np.unravel_index(np.argmax(window), window.shape)  # first maximum, row-major
        expected[c, 2 * i + p, 2 * j + q] = dL_da2[c, i, j]
        assert tuple(state.routes[2][c, i, j]) == (2 * i + p, 2 * j + q)
    np.testing.assert_array_equal(dL_da1, expected)


def test_a_tie_goes_to_the_first_entry_as_the_engine_says():
    raw = load_raw(CONV_MAXPOOL)
    raw["input"] = [[1.0] * 5 for _ in range(5)]  # every window of a1 is constant: all ties
    spec = parse_spec(raw)
    state, _ = conv_example_state(spec, spec.weights(), spec.biases())
    for c, i, j in np.ndindex(*state.a[1].shape):
        assert tuple(state.routes[2][c, i, j]) == (2 * i, 2 * j)
