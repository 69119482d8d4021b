"""Verdicts: each target says met or MISSED, the value, the bound and the margin."""

import pytest


@pytest.fixture(scope="module")
def verdicts(load_benchmark):
    return load_benchmark("verdicts")


def test_a_difference_under_its_bound_is_met_with_the_factor_to_spare(verdicts):
    target = verdicts.Target("sgd: parameters", 4.87e-16, 1e-9, ratio=True)
    assert target.met
    assert target.line() == (
        f"met    sgd: parameters: 4.87e-16 (bound <= 1.00e-09; margin {1e-9 / 4.87e-16:.1e}x)"
    )


def test_a_difference_over_its_bound_is_missed_by_a_factor(verdicts):
    target = verdicts.Target("rmsprop: parameters", 2.16e-9, 1e-9, ratio=True)
    assert not target.met
    assert target.line().startswith("MISSED rmsprop: parameters: 2.16e-09 (bound <= 1.00e-09;")
    assert target.line().endswith(f"missed by {2.16e-9 / 1e-9:.3g}x)")


def test_an_at_least_target_gives_its_shortfall_in_the_values_units(verdicts):
    target = verdicts.Target("batch 32: speed-up", 1.70, 4.0, at_most=False, style=".2f", unit="x")
    assert not target.met
    assert target.line() == (
        f"MISSED batch 32: speed-up: 1.70x (bound >= 4.00x; missed by {4.0 - 1.70:.2f}x)"
    )
    assert verdicts.Target("speed-up", 4.5, 4.0, at_most=False, style=".2f").margin() == "0.50"


def test_a_value_on_its_bound_is_met(verdicts):
    target = verdicts.Target("predictions that differ", 0, 0, style="d")
    assert target.met
    assert target.line().endswith("(bound <= 0; margin 0)")
    assert not verdicts.Target("predictions that differ", 3, 0, style="d").met


def test_a_zero_difference_has_an_unbounded_factor(verdicts):
    assert verdicts.Target("identical", 0.0, 1e-9, ratio=True).margin() == "inf"


def test_the_report_ends_with_how_many_were_met(verdicts):
    lines = verdicts.report(
        [verdicts.Target("a", 1.0, 2.0), verdicts.Target("b", 3.0, 2.0), verdicts.Target("c", 0, 1)]
    )
    assert [line.split()[0] for line in lines[:3]] == ["met", "MISSED", "met"]
    assert lines[-1] == "targets: 2 of 3 met, 1 MISSED"
    assert verdicts.report([verdicts.Target("a", 1.0, 2.0)])[-1] == "targets: 1 of 1 met"
    assert verdicts.report([])[0].startswith("targets: none could be judged")


def test_the_json_record_carries_the_verdict_and_its_margin(verdicts):
    record = verdicts.Target("memory", 323.0, 1024, style=".0f", unit=" MB").as_dict()
    assert record == {"target": "memory", "met": True, "value": 323.0, "bound": 1024,
                      "at_most": True, "margin": "701 MB"}  # fmt: skip
