"""Choosing the best run: the ranking metric, on validation data, never the test set."""

from __future__ import annotations

import pytest

from chainrule.sweep.selection import (
    best_run,
    choose_ranking,
    holds_validation,
    lower_is_better,
)
from chainrule.sweep.store import RunRecord


def record(name, position, status="finished", **metrics):
    return RunRecord(
        name=name,
        position=position,
        factors={},
        overrides={},
        source={},
        recipe={},
        status=status,
        attempts=1,
        queued_at=None,
        started_at=None,
        finished_at=None,
        seconds=None,
        cpu_seconds=None,
        metrics=metrics or None,
        error=None,
        traceback=None,
        worker=None,
        directory=f"runs/{name}",
    )


def test_validation_data_ranks_by_default_and_the_test_set_never_chooses():
    ranking = choose_ranking(None, validation=True)
    assert (ranking.metric, ranking.on_test_set) == ("val_accuracy", False)
    assert ranking.describe() == (
        "ranked by val_accuracy (higher is better), on the validation data; the test set is "
        "reported, never used to choose"
    )
    assert choose_ranking("val_loss", validation=True).direction == "lower"
    assert choose_ranking("epochs_run", validation=True).describe().endswith("never used to choose")
    with pytest.raises(ValueError, match=r"^grid.yaml: metric: 'test_loss' would choose the best "
                                         r"run on the test set; rank by val_loss"):  # fmt: skip
        choose_ranking("test_loss", validation=True, source="grid.yaml: metric")


def test_without_validation_data_the_test_set_ranks_and_says_so():
    ranking = choose_ranking(None, validation=False)
    assert (ranking.metric, ranking.on_test_set) == ("test_accuracy", True)
    assert "no run holds out validation data" in ranking.describe()
    assert "its test score is optimistic" in ranking.describe()
    with pytest.raises(ValueError, match=r"^metric: 'val_loss' needs validation data, but no run "
                                         r"holds any .* or rank by test_loss$"):  # fmt: skip
        choose_ranking("val_loss", validation=False)


def test_which_runs_hold_validation_data():
    assert holds_validation([{"data": {"validation_fraction": 0.1}}])
    assert not holds_validation([{"data": {"validation_fraction": 0.0}}, {}])
    assert holds_validation([{}], [record("a", 0, val_accuracy=0.5)])
    assert not holds_validation([{}], [record("a", 0, val_accuracy=None, test_accuracy=0.5)])


def test_the_best_run_is_finished_scored_and_the_earlier_on_a_tie():
    records = [
        record("failed", 0, status="failed"),
        record("a", 1, val_accuracy=0.8, val_loss=0.5),
        record("b", 2, val_accuracy=0.9, val_loss=0.5),
        record("c", 3, val_accuracy=0.9, val_loss=0.4),
    ]
    assert best_run(records, "val_accuracy").name == "b"
    assert best_run(records, "val_loss").name == "c"
    assert best_run(records, "test_accuracy") is None
    assert lower_is_better("train_seconds") and not lower_is_better("val_accuracy")
