"""Experiment sweeps: a grid of recipes trained in parallel, recorded in SQLite, compared.

    from chainrule.sweep import run_sweep, compare

    summary = run_sweep("recipes/grid-width.yaml", workers=2)      # or scheduler="tcp://..."
    result = compare(summary.directory, by="model.hidden")   # ranked by val_accuracy
    print(result.text)

Modules: :mod:`~chainrule.sweep.grid` (grid files, expansion, run names),
:mod:`~chainrule.sweep.store` (the SQLite record), :mod:`~chainrule.sweep.lock` (one writer
per sweep), :mod:`~chainrule.sweep.executor` (local processes or Dask),
:mod:`~chainrule.sweep.watchdog` (workers end with their sweep),
:mod:`~chainrule.sweep.runner` (:func:`run_sweep`), :mod:`~chainrule.sweep.selection` (the
best run, chosen on validation data), :mod:`~chainrule.sweep.comparison` (tables, figures,
the sweep report).

Names are imported on first use, so a worker process that only needs
:func:`~chainrule.sweep.executor.run_point` does not import plotting or the store.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run_sweep": "runner",
    "SweepSummary": "runner",
    "compare": "comparison",
    "ComparisonResult": "comparison",
    "load_grid": "grid",
    "parse_grid": "grid",
    "Grid": "grid",
    "GridError": "grid",
    "SweepPoint": "grid",
    "SweepStore": "store",
    "SweepStoreError": "store",
    "SweepLocked": "lock",
    "Ranking": "selection",
    "RunRecord": "store",
    "open_executor": "executor",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chainrule.sweep' has no attribute {name!r}")
    return getattr(importlib.import_module(f"chainrule.sweep.{module}"), name)
