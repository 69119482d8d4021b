"""Small real sweeps on the digits fixture, shared by the sweep tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from chainrule.sweep import SweepStore, run_sweep


def _tiny_base(digits_dir: Path, epochs: int = 3) -> dict:
    """A recipe that trains in a fraction of a second on the digits fixture."""
    return {
        "seed": 0,
        "data": {"dataset": str(digits_dir), "train_limit": 600, "validation_fraction": 0.2},
        "model": {"hidden": [16]},
        "training": {
            "optimizer": {"name": "adam", "learning_rate": 0.003},
            "epochs": epochs,
            "batch_size": 32,
        },
    }


def _write_grid(path: Path, grid: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(grid, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def mixed_grid(digits_dir, tmp_path_factory) -> Path:
    """2 activations x 2 variants, where the 'broken' variant fails at run time: 4 runs."""
    return _write_grid(
        tmp_path_factory.mktemp("grids") / "mixed.yaml",
        {
            "name": "mixed",
            "base": _tiny_base(digits_dir),
            "axes": {"model.activation": ["relu", "tanh"]},
            # binary_target 99 is a valid recipe value, but the digits have no class 99:
            # preparing the data raises, so the run fails after it started
            "variants": {"ok": {}, "broken": {"data.binary_target": 99}},
        },
    )


@pytest.fixture(scope="session")
def local_sweep(mixed_grid, tmp_path_factory):
    """The mixed grid on two local worker processes (the default executor)."""
    out = tmp_path_factory.mktemp("sweeps") / "local"
    return run_sweep(mixed_grid, out_dir=out, workers=2, progress=False, figures=False)


@pytest.fixture
def tiny_base(digits_dir):
    """``tiny_base(epochs=3)``: a base recipe for a grid that trains in well under a second."""
    return lambda epochs=3: _tiny_base(digits_dir, epochs)


@pytest.fixture
def write_grid(tmp_path):
    """``write_grid(name, grid)``: the grid dict written as ``tmp_path/<name>.yaml``."""
    return lambda name, grid: _write_grid(tmp_path / f"{name}.yaml", grid)


def _store_sweep(
    directory: Path,
    metrics: dict[str, dict[str, float | None]],
    *,
    metric: str | None = None,
    validation_fraction: float = 0.2,
) -> Path:
    """A finished sweep written straight into a store, no training: one run per entry of
    ``metrics`` (run name -> final metrics), the names being the levels of model.hidden."""
    factor = "model.hidden"
    with SweepStore.create(directory / "sweep.sqlite") as store:
        store.initialize(
            {
                "name": directory.name,
                "factors": json.dumps([factor]),
                "levels": json.dumps({factor: list(metrics)}),
                "metric": metric or "",
                "grid_text": f"axes: {{{factor}: [{', '.join(metrics)}]}}\n",
            },
            [
                {
                    "name": name,
                    "position": position,
                    "factors": {factor: name},
                    "overrides": {factor: [int(name)]},
                    "recipe": {"data": {"validation_fraction": validation_fraction}},
                    "directory": f"runs/{name}",
                }
                for position, name in enumerate(metrics)
            ],
        )
        for name, values in metrics.items():
            store.mark_running(name)
            store.record_result(
                name,
                status="finished",
                started_at=0.0,
                finished_at=1.0,
                metrics={**values, "epochs_run": 1, "train_seconds": 1.0},
                history={"epoch": [1], "val_accuracy": [values.get("val_accuracy")]},
            )
    return directory


@pytest.fixture
def store_sweep(tmp_path):
    """``store_sweep(metrics, metric=None, validation_fraction=0.2)``: a finished sweep in
    ``tmp_path/sweep``, written straight into its store (see :func:`_store_sweep`)."""
    return lambda metrics, **keys: _store_sweep(tmp_path / "sweep", metrics, **keys)
