"""One example's numbers, through the engine's own layers and loss, against the reference."""

from __future__ import annotations

import numpy as np
import pytest
from worked_reference import BCE, CLASSIC, SOFTMAX, initial_parameters, load_raw, reference_step

from chainrule.explain.numbers import example_state, local_derivatives
from chainrule.explain.spec import parse_spec
from chainrule.nn.layers import Softmax, Tanh


@pytest.mark.parametrize("path", [CLASSIC, BCE, SOFTMAX], ids=lambda p: p.stem)
@pytest.mark.parametrize("fuse", [True, False])
def test_example_state_matches_the_reference(path, fuse):
    raw = load_raw(path)
    raw["fuse"] = fuse
    spec = parse_spec(raw)
    ref = reference_step(raw, *initial_parameters(raw))
    state = example_state(spec, spec.weights(), spec.biases(), spec.x()[0], spec.y()[0])
    assert state.loss == pytest.approx(ref["loss"][0], rel=1e-12)
    for i in range(spec.n_layers):
        np.testing.assert_allclose(state.z[i], ref["z"][0][i], rtol=1e-13)
        np.testing.assert_allclose(state.delta[i], ref["delta"][0][i], rtol=1e-11, atol=1e-15)
    if spec.fused:  # the output's dL/da and f' are never formed: δ comes from the logits
        assert state.dL_da[-1] is None and state.local[-1] is None
    else:
        np.testing.assert_allclose(state.dL_da[-1], ref["dL_da"][0][-1], rtol=1e-12)


def test_local_derivatives_are_a_vector_or_a_rowwise_jacobian():
    tanh = Tanh()
    a = tanh.forward(np.array([[0.5, -1.0]]), training=True)[0]
    np.testing.assert_allclose(local_derivatives(tanh, 2), 1 - a**2)
    softmax = Softmax()
    a = softmax.forward(np.array([[0.5, -1.0, 2.0]]), training=True)[0]
    np.testing.assert_allclose(local_derivatives(softmax, 3), np.diag(a) - np.outer(a, a))
