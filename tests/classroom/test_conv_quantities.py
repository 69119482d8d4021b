"""A convolutional step as named quantities: explain's numbers, and carried forward."""

from pathlib import Path

import numpy as np
import pytest

from chainrule.classroom.conv_quantities import ConvChain, chain_for
from chainrule.classroom.quantities import Chain
from chainrule.explain import load_spec, parse_spec
from chainrule.explain.record import equation_values
from chainrule.explain.worked import compute

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SPECS = ["conv-maxpool-dense-softmax.yaml", "conv-stride2-padded.yaml"]


@pytest.mark.parametrize("name", SPECS)
def test_every_printed_number_is_a_quantity_with_explains_value(name):
    spec = load_spec(EXAMPLES / name)
    printed = equation_values(compute(spec).steps[0].sections)
    chain = ConvChain(spec)
    computed, _ = chain.evaluate()
    assert set(printed) <= set(chain.by_name)
    for key, value in printed.items():
        assert computed[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def _drawn(seed, *shape):
    return np.round(np.random.default_rng(seed).uniform(-1, 1, shape), 1).tolist()


#: Two convolutions in a row over a 2-channel image, a softmax Jacobian (not fused), Adam;
#: and pooling straight on the image, an identity convolution, a sigmoid output.
MORE = {
    "deep": {
        "input": _drawn(1, 2, 6, 6),
        "target": [0, 1, 0],
        "layers": [
            {"type": "conv2d", "activation": "tanh", "W": _drawn(2, 2, 2, 3, 3), "padding": 1},
            {"type": "conv2d", "activation": "relu", "W": _drawn(3, 2, 2, 2, 2), "stride": 2},
            {"type": "max_pool2d", "pool_size": 3},
            "flatten",
            {"activation": "sigmoid", "W": _drawn(4, 3, 2), "b": _drawn(5, 3)},
            {"activation": "softmax", "W": _drawn(6, 3, 3)},
        ],
        "loss": "categorical_crossentropy",
        "fuse": False,
        "optimizer": {"name": "adam", "learning_rate": 0.1},
    },
    "pool-first": {
        "input": _drawn(7, 4, 4),
        "target": [1],
        "layers": [
            {"type": "avg_pool2d", "pool_size": 2},
            {"type": "conv2d", "W": _drawn(8, 2, 2), "b": [0.1]},
            "flatten",
            {"activation": "sigmoid", "W": [[0.7]]},
        ],
        "loss": "binary_crossentropy",
        "optimizer": {"name": "gd", "learning_rate": 0.1},
    },
}


@pytest.mark.parametrize("name", list(MORE))
def test_deeper_and_pooled_first_networks_match_explain(name):
    spec = parse_spec(MORE[name])
    printed = equation_values(compute(spec).steps[0].sections)
    computed, _ = ConvChain(spec).evaluate()
    assert len(printed) > 40 and set(printed) <= set(computed)
    for key, value in printed.items():
        assert computed[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize("name", SPECS)
def test_every_entry_of_every_map_is_named(name):
    spec = load_spec(EXAMPLES / name)
    chain = ConvChain(spec)
    example = compute(spec).steps[0].examples[0]
    computed, _ = chain.evaluate()
    for layer, kind in enumerate(spec.kinds, start=1):
        np.testing.assert_allclose(chain.tensor(computed, "a", layer), example.a[layer - 1])
        if kind == "conv2d":
            np.testing.assert_allclose(chain.tensor(computed, "δ", layer), example.delta[0])
    np.testing.assert_allclose(chain.tensor(computed, "dL/dx", 0), example.dL_dx)


def test_a_students_delta_is_carried_into_the_kernel_gradient():
    spec = load_spec(EXAMPLES / "conv-maxpool-dense-softmax.yaml")
    chain = ConvChain(spec)
    right, _ = chain.evaluate()
    computed, _ = chain.evaluate({"δ1[1,2,2]": 1.0})
    x = spec.x()[0, 0]
    # dL/dW1[1,1,p,q] = Σ_ij δ1[1,i,j] x[i+p-1, j+q-1]: δ1[1,2,2] meets x[2+p-1, 2+q-1]
    for p in (1, 2):
        for q in (1, 2):
            name = f"dL/dW1[1,1,{p},{q}]"
            change = (1.0 - right["δ1[1,2,2]"]) * x[p, q]
            assert computed[name] == pytest.approx(right[name] + change, abs=1e-12)
    assert computed["dL/dW1[2,1,1,1]"] == right["dL/dW1[2,1,1,1]"]
    assert computed["dL/db1[1]"] == pytest.approx(right["dL/db1[1]"] + 1.0 - right["δ1[1,2,2]"])
    assert "δ1[1,2,2]" in chain.ancestors("dL/dx[1,2,2]")
    assert "δ1[1,4,4]" not in chain.ancestors("dL/dx[1,1,1]")


def test_a_dense_spec_keeps_its_chain():
    assert type(chain_for(load_spec(EXAMPLES / "relu-tanh-sigmoid-mse.yaml"))) is Chain
