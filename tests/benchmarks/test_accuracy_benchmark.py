"""benchmarks/accuracy.py: the best MLP's target, and cnn-lenet's when it ran."""

import pytest


@pytest.fixture(scope="module")
def accuracy(load_benchmark):
    return load_benchmark("accuracy")


def run(recipe, test_accuracy, wall_seconds=60.0):
    return {"recipe": recipe, "test_accuracy": test_accuracy, "wall_seconds": wall_seconds}


def test_the_best_mlp_is_judged(accuracy):
    rows = [run("mlp-baseline", 0.871), run("mlp-best-relu", 0.901)]
    (target,) = accuracy.accuracy_targets(rows, "fashion-mnist")
    assert target.met
    assert target.name == "best MLP (mlp-best-relu): test accuracy on fashion-mnist"
    assert target.line().endswith(f"margin {0.901 - 0.895:.2%})")
    (missed,) = accuracy.accuracy_targets([run("mlp-baseline", 0.871)], "fashion-mnist")
    assert not missed.met


def test_cnn_lenet_is_judged_on_accuracy_and_time(accuracy):
    targets = accuracy.accuracy_targets([run("cnn-lenet", 0.92, 20 * 60)], "fashion-mnist")
    assert [(target.name, target.met) for target in targets] == [
        ("cnn-lenet: test accuracy on fashion-mnist", True),
        ("cnn-lenet: minutes to train and test", False),
    ]
