"""Sweep speed-up: the same 9-run sweep with 1 worker process and with 2 (or --workers).

    python benchmarks/sweep.py --data-dir ../shared/data
    python benchmarks/sweep.py --data-dir ../shared/data --workers 1 2 4 --epochs 3

The grid: 3 activations (relu, sigmoid, tanh) x 3 initializers (normal, glorot_normal,
he_normal) on Fashion-MNIST, 784-64-10, SGD mini-batches of 32, ``--train-limit`` training
images for ``--epochs`` epochs, no figures. Each measurement is a fresh ``run_sweep`` into a
fresh directory, timed wall clock from the call to its return: worker start-up, the dataset
check, every run, and the store's commits all count. Each worker count is measured
``--repeat`` times, interleaved, and the fastest counts (other load on the machine only ever
slows a measurement down). Each run trains with one BLAS thread, so
on a machine with N free cores N workers should approach N times faster. Not quite N: nine
equal runs on two workers take five rounds, the last with one worker idle, so the ideal is
9 / ceil(9 / N) (1.8x for 2 workers). Printed: the speed-up, the ideal, and the parallel
efficiency against it; the target is at least 90% of the ideal on free cores (the runs' CPU
seconds show whether other load shared the cores: then wall time exceeds CPU time). Each
worker count's target is printed as met or MISSED with its margin (``verdicts.py``). The
exit status is 0 whenever the sweeps ran, targets met or not; it is non-zero only when the
script itself failed (a run of a sweep failed, say).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml
from verdicts import Target, print_report

REPO = Path(__file__).resolve().parents[1]
RUNS = 9
TARGET_OF_IDEAL = 0.9


def grid(train_limit: int, epochs: int) -> dict:
    return {
        "name": "bench-sweep",
        "base": {
            "seed": 0,
            "data": {
                "dataset": "fashion-mnist",
                "preprocessing": "standardize",
                "validation_fraction": 0.1,
                "train_limit": train_limit,
            },
            "model": {"hidden": [64]},
            "training": {
                "optimizer": {"name": "sgd", "learning_rate": 0.05},
                "epochs": epochs,
                "mode": "minibatch",
                "batch_size": 32,
            },
        },
        "axes": {
            "model.activation": ["relu", "sigmoid", "tanh"],
            "model.init": ["normal", "glorot_normal", "he_normal"],
        },
    }


def measure(grid_path: Path, workers: int, data_dir: str | None, scratch: Path) -> dict:
    from chainrule.sweep import SweepStore, run_sweep

    started = time.perf_counter()
    summary = run_sweep(
        grid_path,
        out_dir=scratch / f"workers-{workers}",
        workers=workers,
        data_dir=data_dir,
        download=False,
        progress=False,
        figures=False,
    )
    wall = time.perf_counter() - started
    if summary.finished != summary.total:
        raise SystemExit(f"{workers} workers: runs failed: {summary.failures}")
    with SweepStore.open(summary.store, readonly=True) as store:
        records = store.runs()
    return {
        "workers": workers,
        "wall_seconds": wall,
        "run_seconds_total": sum(record.seconds for record in records),
        "run_cpu_seconds_total": sum(record.cpu_seconds for record in records),
        "train_seconds_total": sum(record.metrics["train_seconds"] for record in records),
        "test_accuracy": {r.name: r.metrics["test_accuracy"] for r in records},
    }


def ideal_speedup(base_workers: int, workers: int) -> float:
    """RUNS equal runs take ceil(RUNS / workers) rounds: the best speed-up over base_workers."""
    return math.ceil(RUNS / base_workers) / math.ceil(RUNS / workers)


def sweep_targets(results: list[dict]) -> list[Target]:
    """Each worker count after the first against the first: its speed-up as a share of the
    ideal, at least TARGET_OF_IDEAL. ``results`` are ``measure``'s, fastest per count."""
    base = results[0]
    targets = []
    for result in results[1:]:
        speedup = base["wall_seconds"] / result["wall_seconds"]
        ideal = ideal_speedup(base["workers"], result["workers"])
        targets.append(Target(
            f"{result['workers']} vs {base['workers']} workers: speed-up {speedup:.2f}x "
            f"as a share of the ideal {ideal:.2f}x", speedup / ideal, TARGET_OF_IDEAL,
            at_most=False, style=".0%",
        ))  # fmt: skip
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = REPO.parent / "shared" / "data"
    parser.add_argument("--data-dir", default=str(default_data) if default_data.is_dir() else None)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--train-limit", type=int, default=30000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--repeat", type=int, default=2, help="measurements per worker count (the best counts)"
    )
    parser.add_argument("--json-out", help="also write the results here (JSON)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="chainrule-bench-sweep-") as temporary:
        scratch = Path(temporary)
        grid_path = scratch / "bench-sweep.yaml"
        grid_path.write_text(yaml.safe_dump(grid(args.train_limit, args.epochs), sort_keys=False))
        measured: dict[int, list[dict]] = {workers: [] for workers in args.workers}
        for repeat in range(args.repeat):  # interleaved, so load from elsewhere hits all alike
            for workers in args.workers:
                scratch_n = scratch / f"repeat-{repeat}"
                measured[workers].append(measure(grid_path, workers, args.data_dir, scratch_n))
                result = measured[workers][-1]
                print(
                    f"{workers} worker{'s' * (workers != 1)}: {result['wall_seconds']:.1f} s wall "
                    f"for 9 runs (runs themselves {result['run_seconds_total']:.1f} s, of which "
                    f"on a CPU {result['run_cpu_seconds_total']:.1f} s; training "
                    f"{result['train_seconds_total']:.1f} s)",
                    flush=True,
                )
        results = [min(measured[w], key=lambda r: r["wall_seconds"]) for w in args.workers]
        for result in results:
            result["all_wall_seconds"] = [r["wall_seconds"] for r in measured[result["workers"]]]

    base = results[0]
    print(f"\ncores: {os.cpu_count()}, {platform.processor() or platform.machine()}")
    for result in results[1:]:
        speedup = base["wall_seconds"] / result["wall_seconds"]
        workers = result["workers"] / base["workers"]
        ideal = ideal_speedup(base["workers"], result["workers"])
        result["speedup"], result["ideal_speedup"] = speedup, ideal
        print(
            f"{result['workers']} vs {base['workers']} workers: speed-up {speedup:.2f}x "
            f"(ideal for {RUNS} equal runs {ideal:.2f}x; {speedup / ideal:.0%} of it), "
            f"efficiency {speedup / workers:.0%}"
        )
        if result["test_accuracy"] != base["test_accuracy"]:
            print("  WARNING: test accuracies differ between worker counts", file=sys.stderr)
    targets = sweep_targets(results)
    print_report(targets)

    if args.json_out:
        payload = {
            "settings": {"train_limit": args.train_limit, "epochs": args.epochs, "runs": 9},
            "cores": os.cpu_count(),
            "results": results,
            "targets": [target.as_dict() for target in targets],
        }
        Path(args.json_out).write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
