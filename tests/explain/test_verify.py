"""The check of each step's gradients: against the engine's backward and finite differences."""

from __future__ import annotations

import numpy as np
from worked_reference import CLASSIC

from chainrule.explain import compute, explain
from chainrule.explain.spec import load_spec, parse_spec
from chainrule.explain.verify import verification_block, verify


def test_the_worked_gradients_agree_with_the_engine_and_finite_differences():
    text = explain(CLASSIC)
    assert "gives gradients that agree with the ones above" in text
    assert "Finite differences" in text and "DISAGREE" not in text


def test_a_wrong_gradient_is_caught_by_both_checks():
    spec = load_spec(CLASSIC)
    step = compute(spec).steps[0]
    assert step.verification.passed
    wrong = [dW.copy() for dW in step.dW]
    wrong[1][0, 0] += 1e-3
    result = verify(spec, step.W, step.b, step.loss, wrong, step.db)
    assert not result.engine_passed and not result.fd_passed and not result.passed
    assert np.isclose(result.engine_max_difference, 1e-3)
    notes = " ".join(str(part) for note in verification_block(result).notes for part in note)
    assert notes.count("DISAGREE") == 2


def test_a_relu_on_its_kink_is_named_in_words():
    # z1[1] = 0.2*(-0.5) + 0*0.3 + 0.1 = 0: the one-sided derivative, not a wrong gradient
    spec = parse_spec(
        {
            "input": [-0.5, 0.3],
            "target": [0.5],
            "layers": [
                {"activation": "relu", "W": [[0.2, 0.0], [0.1, 0.1]], "b": [0.1, 0.1]},
                {"activation": "sigmoid", "W": [[0.5, 0.4]]},
            ],
            "loss": "mse",
            "optimizer": {"name": "gd", "learning_rate": 0.1},
        }
    )
    result = compute(spec).steps[0].verification
    assert result.kinks == ["z1[1] = 0 (ReLU)"]
    notes = " ".join(str(part) for note in verification_block(result).notes for part in note)
    assert "On a kink: z1[1] = 0 (ReLU)" in notes and "one-sided" in notes
    assert compute(load_spec(CLASSIC)).steps[0].verification.kinks == []
