"""Test accuracy of the shipped recipes on Fashion-MNIST (or any dataset), side by side.

    python benchmarks/accuracy.py --data-dir ../shared/data                 # every MLP recipe
    python benchmarks/accuracy.py --data-dir ../shared/data mlp-best-relu   # one recipe

Each recipe is trained exactly as written (its epochs, early stopping and all), only pointed
at the dataset given (``--dataset``, default fashion-mnist: the recipes default to MNIST,
whose training split is not always at hand). Prints a table and writes the figures as JSON
(``--json-out``). The target of the training issue: the best MLP recipe reaches >= 89.5% test
accuracy on Fashion-MNIST.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from chainrule.app.recipes import load_recipe
from chainrule.app.run import train_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
TARGET = 0.895  # the best MLP recipe, Fashion-MNIST
CNN_TARGET = 0.915  # cnn-lenet, within 15 minutes on 2 cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", help="recipe names (default: every mlp-* recipe)")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--out", default="runs/benchmark-accuracy", help="run directories")
    parser.add_argument("--json-out", default="benchmarks/results/accuracy.json")
    args = parser.parse_args()

    names = args.recipes or sorted(
        p.stem for p in RECIPES.glob("*.yaml") if p.stem.startswith("mlp")
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows = []
    for name in names:
        recipe = load_recipe(RECIPES / f"{name}.yaml", [f"data.dataset={args.dataset}"])
        started = time.perf_counter()
        result = train_recipe(
            recipe,
            out_dir=Path(args.out) / f"{stamp}-{name}",
            data_dir=args.data_dir,
            progress=False,
            figures=False,
        )
        metrics = result.metrics
        rows.append(
            {
                "recipe": name,
                "test_accuracy": metrics["test_accuracy"],
                "test_loss": metrics["test_loss"],
                "epochs_run": metrics["epochs_run"],
                "train_seconds": metrics["train_seconds"],
                "seconds_per_epoch": metrics["train_seconds"] / metrics["epochs_run"],
                "wall_seconds": time.perf_counter() - started,
            }
        )
        print(
            f"{name:<44} {metrics['test_accuracy']:7.2%}  {metrics['epochs_run']:3d} epochs  "
            f"{metrics['train_seconds']:7.1f} s",
            flush=True,
        )
    cnn = next((row for row in rows if row["recipe"] == "cnn-lenet"), None)
    if cnn:
        met = cnn["test_accuracy"] >= CNN_TARGET and cnn["wall_seconds"] <= 15 * 60
        print(
            f"cnn-lenet: {cnn['test_accuracy']:.2%} in {cnn['wall_seconds'] / 60:.1f} min "
            f"(target >= {CNN_TARGET:.1%} within 15 min: {'met' if met else 'MISSED'})"
        )
    rows_mlp = [row for row in rows if not row["recipe"].startswith("cnn")]
    best = max(rows_mlp, key=lambda row: row["test_accuracy"]) if rows_mlp else None
    if best:
        verdict = "met" if best["test_accuracy"] >= TARGET else "MISSED"
        print(
            f"\nbest MLP: {best['recipe']} {best['test_accuracy']:.2%} on {args.dataset} "
            f"(target >= {TARGET:.1%}: {verdict}, by {best['test_accuracy'] - TARGET:+.2%})"
        )
    report = {
        "dataset": args.dataset,
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "processor": platform.processor() or platform.machine()},
        "target": TARGET,
        "best": best,
        "runs": rows,
    }  # fmt: skip
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {args.json_out}")


if __name__ == "__main__":
    main()
