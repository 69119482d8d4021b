"""benchmarks/parity.py: its targets and verdicts, and the same-gradient measurement."""

import numpy as np
import pytest

from chainrule.app.recipes import parse_recipe
from chainrule.nn.optim import SGD, get_optimizer


@pytest.fixture(scope="module")
def parity(load_benchmark):
    return load_benchmark("parity")


def row(name, loss, params, same_gradients=3e-16):
    return {"optimizer": name, "loss": loss, "params": params, "same_gradients": same_gradients}


def test_each_optimizer_is_judged_by_the_worse_of_its_losses_and_parameters(parity):
    rows = [row("sgd", 2.6e-16, 4.9e-16), row("rmsprop", 5.3e-10, 2.2e-9), row("adam", 2e-9, 1e-13)]
    targets = parity.parity_targets(rows, steps=50, differing=0)
    assert [target.met for target in targets] == [True, False, False, True]
    assert [target.value for target in targets[:3]] == [4.9e-16, 2.2e-9, 2e-9]
    missed = targets[1].line()
    assert missed.startswith("MISSED rmsprop: losses and parameters within 1e-09 of PyTorch's")
    assert targets[-1].line().startswith("met    model file in PyTorch")


def test_a_differing_prediction_misses_the_model_file_target(parity):
    (target,) = parity.parity_targets([], steps=50, differing=3)
    assert not target.met
    assert target.line().endswith("3 (bound <= 0; missed by 3)")


def test_a_miss_names_its_cause(parity):
    assert "the update rule agrees" in parity.miss_cause(row("rmsprop", 5e-10, 2e-9), 50)
    assert "the update rule itself differs" in parity.miss_cause(
        row("rmsprop", 5e-10, 2e-9, same_gradients=1e-6), 50
    )


def small_model():
    recipe = parse_recipe({"model": {"hidden": [8], "input_shape": [6], "outputs": 3,
                                     "init": "he_normal", "dtype": "float64"}})  # fmt: skip
    return recipe.build_model()


class DoubleStepSGD(SGD):
    """A rule that is not PyTorch's SGD while its twin is: θ ← θ - 2 η g."""

    def _update(self, params, grads):
        params -= 2 * self.learning_rate * grads


def test_the_same_gradient_difference_sees_the_update_rule_alone(parity, rng):
    pytest.importorskip("torch")
    x, y = rng.normal(size=(200, 6)), rng.integers(0, 3, 200)
    for name in ["sgd", "rmsprop", "adam"]:
        optimizer = get_optimizer({"name": name, "learning_rate": 0.01})
        assert parity.same_gradient_difference(small_model(), optimizer, x, y, 16, 50) < 1e-13
    wrong = parity.same_gradient_difference(small_model(), DoubleStepSGD(0.01), x, y, 16, 50)
    assert wrong > 1e-3
    assert np.isfinite(wrong)
