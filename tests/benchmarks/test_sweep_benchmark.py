"""benchmarks/sweep.py: each worker count's speed-up against the ideal for nine runs."""

import pytest


@pytest.fixture(scope="module")
def sweep(load_benchmark):
    return load_benchmark("sweep")


def test_the_ideal_counts_rounds_of_equal_runs(sweep):
    assert sweep.ideal_speedup(1, 2) == 9 / 5
    assert sweep.ideal_speedup(1, 3) == 3.0


def test_each_worker_count_after_the_first_is_judged(sweep):
    results = [{"workers": 1, "wall_seconds": 12.7}, {"workers": 2, "wall_seconds": 7.3},
               {"workers": 3, "wall_seconds": 6.0}]  # fmt: skip
    two, three = sweep.sweep_targets(results)
    assert two.met and two.value == pytest.approx(12.7 / 7.3 / 1.8)
    assert not three.met and three.value == pytest.approx(12.7 / 6.0 / 3.0)
    assert two.name.startswith("2 vs 1 workers: speed-up 1.74x")
    assert sweep.sweep_targets(results[:1]) == []
