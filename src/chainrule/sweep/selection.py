"""Which run of a sweep is best: chosen on validation data, never on the test set.

A sweep is model selection. The run it calls best is chosen by one final metric (the
*ranking metric*); the held-out test set must not take part in that choice, or the winner's
test score is no longer an unbiased estimate of how it does on new data — it is the maximum
of many noisy estimates, optimistic by construction. So:

- the ranking metric is the one asked for, else the grid's ``metric:``, else
  ``val_accuracy`` (the last epoch's accuracy on the validation split,
  ``data.validation_fraction``);
- a ``test_*`` metric may rank runs only when no run holds out validation data, and every
  table then says so (:meth:`Ranking.describe`);
- the test metrics are reported beside the ranking metric in every table, for the reader.

Losses, times and epoch counts rank lowest first, accuracies and the rest highest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chainrule.sweep.store import RunRecord

__all__ = [
    "TEST_PREFIX",
    "VALIDATION_PREFIX",
    "Ranking",
    "best_run",
    "choose_ranking",
    "holds_validation",
    "lower_is_better",
]

#: Final metrics measured on the held-out test set start with this.
TEST_PREFIX = "test_"
#: Final metrics measured on the validation split start with this.
VALIDATION_PREFIX = "val_"


@dataclass(frozen=True)
class Ranking:
    """The metric that ranks a sweep's runs, and whether the runs hold validation data."""

    metric: str
    validation: bool  # some run holds out a validation split

    @property
    def on_test_set(self) -> bool:
        """Whether the test set chooses (only allowed when there is no validation data)."""
        return self.metric.startswith(TEST_PREFIX)

    @property
    def direction(self) -> str:
        return "lower" if lower_is_better(self.metric) else "higher"

    def describe(self) -> str:
        """One sentence for every table: what ranked the runs, and what the test set did."""
        text = f"ranked by {self.metric} ({self.direction} is better)"
        if self.on_test_set:
            return (
                f"{text}: no run holds out validation data (data.validation_fraction is 0), "
                "so the test set chose the best run and its test score is optimistic"
            )
        if self.metric.startswith(VALIDATION_PREFIX):
            return f"{text}, on the validation data; the test set is reported, never used to choose"
        return f"{text}; the test set is reported, never used to choose"


def lower_is_better(metric: str) -> bool:
    """Losses, times and epoch counts are minimized; accuracies and the rest maximized."""
    return "loss" in metric or metric.endswith("seconds") or metric == "epochs_run"


def holds_validation(recipes: Iterable[dict[str, Any]], records: Iterable[RunRecord] = ()) -> bool:
    """Whether any run holds out validation data: a recipe with a validation fraction, or a
    run that recorded a validation metric."""
    if any((recipe.get("data") or {}).get("validation_fraction", 0) for recipe in recipes):
        return True
    return any(
        record.metric(key) is not None
        for record in records
        for key in (record.metrics or {})
        if key.startswith(VALIDATION_PREFIX)
    )


def choose_ranking(metric: str | None, validation: bool, source: str = "metric") -> Ranking:
    """The ranking metric: ``metric`` if given, else ``val_accuracy`` (validation data) or
    ``test_accuracy`` (none).

    Raises ``ValueError`` for a ``test_*`` metric when validation data exists (that would
    choose on the test set), and for a ``val_*`` metric when none does (no run would have
    it), naming ``source``: where the metric was asked for, such as ``grid.yaml: metric``.
    """
    if not metric:
        metric = "val_accuracy" if validation else "test_accuracy"
    if not isinstance(metric, str):
        raise TypeError(f"{source}: metric is a metric name such as val_accuracy, got {metric!r}")
    if metric.startswith(TEST_PREFIX) and validation:
        kind = "loss" if "loss" in metric else "accuracy"
        instead = f"{VALIDATION_PREFIX}{kind}"
        raise ValueError(
            f"{source}: {metric!r} would choose the best run on the test set; rank by "
            f"{instead} (the validation data) instead: the test metrics are reported beside it"
        )
    if metric.startswith(VALIDATION_PREFIX) and not validation:
        raise ValueError(
            f"{source}: {metric!r} needs validation data, but no run holds any "
            "(data.validation_fraction is 0): set a validation fraction, or rank by "
            f"{TEST_PREFIX}{metric.removeprefix(VALIDATION_PREFIX)}"
        )
    return Ranking(metric, validation)


def best_run(records: list[RunRecord], metric: str) -> RunRecord | None:
    """The finished run with the best ``metric`` (ties: the earlier in grid order)."""
    scored = [r for r in records if r.status == "finished" and r.metric(metric) is not None]
    if not scored:
        return None
    sign = 1.0 if lower_is_better(metric) else -1.0
    return min(scored, key=lambda record: (sign * record.metric(metric), record.position))
