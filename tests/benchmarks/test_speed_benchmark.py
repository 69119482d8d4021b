"""benchmarks/speed.py: which targets its measurements judge, and how."""

import pytest


@pytest.fixture(scope="module")
def speed(load_benchmark):
    return load_benchmark("speed")


def measured(seconds, accuracy=0.85, memory=300.0):
    return {"seconds_per_epoch": seconds, "test_accuracy": accuracy, "peak_memory_mb": memory}


def test_every_measured_target_gets_a_verdict(speed):
    results = {
        "chainrule@32": measured(1.5, 0.850),
        "pytorch@32": measured(2.55, 0.849),
        "chainrule-seeds@32": {"accuracies": [0.846, 0.852, 0.848, 0.851]},
        "chainrule+diagnostics@32": measured(1.8),
        "chainrule@128": measured(0.62, memory=1500.0),
    }
    targets = {target.name: target for target in speed.speed_targets(results, [32, 128], 0.13)}
    speedup = targets["batch 32: speed-up over PyTorch"]
    assert not speedup.met and speedup.value == pytest.approx(2.55 / 1.5)
    assert speedup.line().endswith(f"missed by {4 - 2.55 / 1.5:.2f}x)")
    floor = targets["batch 128: seconds per epoch over the floor"]
    assert not floor.met and floor.value == pytest.approx(0.62 / 0.13)
    assert not targets["batch 32: extra time with diagnostics"].met  # 20% > 10%
    assert targets["batch 32: peak memory"].met
    assert not targets["batch 128: peak memory"].met
    (accuracy,) = [t for name, t in targets.items() if name.startswith("batch 32: test accuracy")]
    assert accuracy.met and "(+0.10%)" in accuracy.name and "2 sd of 5 seeds" in accuracy.name


def test_without_pytorch_only_chainrules_own_targets_are_judged(speed):
    targets = speed.speed_targets({"chainrule@32": measured(1.5)}, [32], 0.13)
    assert [target.name for target in targets] == ["batch 32: peak memory"]


def test_the_cnn_is_judged_against_pytorch(speed):
    results = {"chainrule-cnn@64": measured(25.7, 0.90), "pytorch-cnn@64": measured(22.3, 0.91)}
    ratio, accuracy = speed.speed_targets(results, [], 0.13)
    assert ratio.met and ratio.value == pytest.approx(25.7 / 22.3)
    assert not accuracy.met  # one point apart, the tolerance is half a point
