"""The chain of named quantities: explain's own numbers, and numbers carried from a student's."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from chainrule.classroom.quantities import Chain
from chainrule.explain import compute, load_spec, parse_spec
from chainrule.reporting.expr import Style

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLASSIC = EXAMPLES / "relu-tanh-sigmoid-mse.yaml"


def printed_values(spec) -> dict[str, float]:
    """Every number explain prints for step 1, by its printed name."""
    record = compute(spec)
    return {
        equation.lhs.text(Style()): equation.value
        for section in record.steps[0].sections
        for block in section.blocks
        for equation in block.equations
    }


def with_optimizer(optimizer: dict) -> object:
    raw = yaml.safe_load(CLASSIC.read_text())
    return parse_spec(raw | {"optimizer": optimizer, "update": {"biases": True}}, "test")


SPECS = [
    load_spec(CLASSIC),
    load_spec(EXAMPLES / "sigmoid-binary-crossentropy.yaml"),
    load_spec(EXAMPLES / "softmax-categorical-crossentropy.yaml"),
    with_optimizer({"name": "momentum", "learning_rate": 0.1, "momentum": 0.9}),
    with_optimizer({"name": "adam", "learning_rate": 0.1}),
]


@pytest.mark.parametrize("spec", SPECS, ids=["mse", "bce", "softmax", "momentum", "adam"])
def test_the_chain_gives_every_number_explain_prints(spec):
    chain = Chain(spec)
    computed, _ = chain.evaluate()
    printed = printed_values(spec)
    assert set(printed) <= set(chain.by_name)
    for name, value in printed.items():
        assert computed[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name


def test_pre_activations_are_named_too():
    chain = Chain(SPECS[0])
    record = compute(SPECS[0])
    computed, _ = chain.evaluate()
    assert computed["z2[1]"] == pytest.approx(record.steps[0].examples[0].z[1][0])


def test_an_override_is_carried_into_every_later_quantity():
    chain = Chain(SPECS[0])
    right, _ = chain.evaluate()
    carried, used = chain.evaluate({"a1[1]": 0.5})
    assert used["a1[1]"] == 0.5 and carried["a1[1]"] == right["a1[1]"]
    W2, b2 = SPECS[0].weights()[1], SPECS[0].biases()[1]
    a1 = np.array([0.5, right["a1[2]"], right["a1[3]"]])
    assert carried["z2[1]"] == pytest.approx(W2[0] @ a1 + b2[0])
    assert carried["dL/dW2[1,1]"] == pytest.approx(carried["δ2[1]"] * 0.5)
    assert carried["z1[1]"] == right["z1[1]"]  # earlier quantities do not move


def test_ancestors_follow_the_inputs():
    chain = Chain(SPECS[0])
    assert {"a3[1]", "z3[1]", "a2[1]", "a1[1]"} <= chain.ancestors("dL/da3[1]")
    assert "L" not in chain.ancestors("δ3[1]")


def test_update_rules_are_quantities():
    chain = Chain(SPECS[3])
    assert [q.name for q in chain.quantities[-2:]] == ["v(b3[2])", "b3[2]"]


def test_a_batch_is_refused_in_one_line():
    raw = yaml.safe_load(CLASSIC.read_text())
    spec = parse_spec(raw | {"input": [[0.3, 0.5, 0.8]] * 2, "target": [[0.5, 0.8]] * 2})
    with pytest.raises(ValueError, match="one example; this spec has 2"):
        Chain(spec)
