"""The result types: verdict words, counts, scores with weights, and their JSON form."""

import json

import pytest

from chainrule.classroom.diagnosis import Diagnosis
from chainrule.classroom.verdicts import CheckResult, QuantityResult, check_weights


def result() -> CheckResult:
    rows = [
        QuantityResult("a1[1]", "forward pass", "right", 0.49, 0.49, "0.49"),
        QuantityResult("L", "loss", "wrong", 0.02, 0.03, "0.03",
                       diagnosis=Diagnosis("loss convention factor", "a factor 2", 0.04)),
        QuantityResult("δ3[1]", "backward pass", "follows", 0.04, 0.08, "0.08",
                       follows_from=("L",)),
        QuantityResult("δ3[2]", "backward pass", "missing", 0.01),
    ]  # fmt: skip
    return CheckResult("title", "answers.yaml", "ada", rows)


def test_words_and_counts():
    r = result()
    assert r["L"].verdict_text == "wrong: loss convention factor"
    assert r["δ3[1]"].verdict_text == "follows from your value of L"
    assert [r.count(v) for v in ("right", "follows", "wrong", "missing")] == [1, 1, 1, 1]
    assert r.first_wrong.name == "L" and not r.all_right
    with pytest.raises(KeyError):
        r["z9[9]"]


def test_scores_over_the_answered_or_over_the_tasks():
    r = result()
    assert r.score() == pytest.approx(1.5 / 3)
    assert r.score({"follows": 0.75, "wrong": 0.25}) == pytest.approx(2 / 3)
    assert r.score(over=["a1[1]", "δ3[2]"]) == pytest.approx(0.5)


def test_weights_are_checked():
    with pytest.raises(ValueError, match="unknown verdict 'partial'"):
        check_weights({"partial": 1})
    with pytest.raises(ValueError, match="weights"):
        check_weights({"right": -1})


def test_to_dict_is_json():
    data = json.loads(json.dumps(result().to_dict()))
    assert data["first_wrong"] == "L" and data["counts"]["missing"] == 1
    assert data["quantities"][1]["diagnosis"]["mistake"] == "loss convention factor"
