"""Subcommands for one recipe and its run directory: summary, train, evaluate, diagnose, plot."""

from __future__ import annotations

import argparse
from pathlib import Path

from chainrule.cli.command import (
    Command,
    CommandError,
    add_data_arguments,
    add_set_argument,
    to_json,
)


def add_summary_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="RECIPE|MODEL", help="recipe YAML or model file")
    add_set_argument(
        parser, help="override a recipe key, e.g. --set model.hidden=[128,64] (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run_summary(args: argparse.Namespace) -> int:
    from chainrule.app.recipes import load_recipe
    from chainrule.nn.model import load_model

    source = Path(args.source)
    if source.suffix == ".safetensors":
        if args.set:
            raise CommandError(
                f"--set applies to recipes; a model file's architecture is fixed ({source})"
            )
        model, _ = load_model(source)
    else:
        recipe = load_recipe(source, args.set)
        if recipe.data.kind in ("csv", "npz"):  # the file's own width and classes shape the model
            from chainrule.app.run import prepare_data

            data = prepare_data(recipe, progress=False)
            model = recipe.build_model(data.preprocessing.input_shape, len(data.class_names))
        else:
            model = recipe.build_model()
    if args.json:
        rows = [
            {"layer": name, "output_shape": shape, "params": count}
            for name, shape, count in model.summary_rows()
        ]
        print(to_json({"layers": rows, "total_params": model.count_params()}, indent=2))
    else:
        print(model.summary())
    return 0


SUMMARY = Command(
    name="summary",
    help="print the layers, output shapes and parameter counts of a recipe's model",
    description="Print the model summary (layers, output shapes, parameter counts) of a "
    "recipe (.yaml) or a saved model (.safetensors).",
    add_arguments=add_summary_arguments,
    run=run_summary,
)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", metavar="RECIPE", nargs="?", help="recipe YAML file")
    parser.add_argument(
        "--resume", metavar="RUN_DIR", help="continue a stopped run from its newest checkpoint"
    )
    parser.add_argument(
        "--dataset",
        help="mnist, fashion-mnist, kmnist; a folder of IDX files; a .csv or .npz file of your "
        "own; or a built-in 2-D set: xor, moons, circles, spirals, blobs (their settings as "
        "--set data.noise=0.2 ...)",
    )
    add_data_arguments(parser)
    parser.add_argument("--out", metavar="DIR", help="run directory (default: runs/<recipe name>)")
    add_set_argument(
        parser, help="override a recipe key, e.g. --set training.epochs=3 (repeatable)"
    )
    parser.add_argument(
        "--diagnostics",
        action="store_true",
        help="record per-layer gradient, update and activation statistics (diagnostics.csv)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="cores to train on (default: all); big steps such as a CNN's split each batch "
        "across them",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument("--json", action="store_true", help="print the final metrics as JSON")


def run_train(args: argparse.Namespace) -> int:
    from chainrule.app.recipes import load_recipe
    from chainrule.app.run import train_recipe

    overrides = list(args.set)
    if args.dataset:  # as a --set: one given twice with another value is refused
        overrides.append(f"data.dataset={args.dataset}")
    if args.resume:
        if args.recipe or args.out:
            raise CommandError("--resume RUN_DIR takes no RECIPE or --out: the run has both")
        from chainrule.app.run import latest_checkpoint

        latest_checkpoint(Path(args.resume))  # a clear error before any data is loaded
        recipe_path = Path(args.resume) / "recipe.yaml"
    elif not args.recipe:
        raise CommandError("give a RECIPE to train, or --resume RUN_DIR to continue a run")
    else:
        recipe_path = Path(args.recipe)
    recipe = load_recipe(recipe_path, overrides)
    if args.diagnostics and recipe.training.diagnostics is False:
        # --diagnostics turns them on; a recipe's own "every N steps" is kept.
        recipe = load_recipe(recipe_path, [*overrides, "training.diagnostics=true"])
    result = train_recipe(
        recipe,
        out_dir=args.resume or args.out,
        data_dir=args.data_dir,
        download=not args.offline,
        progress=not (args.quiet or args.json),
        resume=bool(args.resume),
        threads=args.threads,
    )
    metrics = result.metrics
    if args.json:
        keys = ("test_accuracy", "test_loss", "epochs_run", "train_seconds", "val_accuracy")
        print(to_json({"run_dir": str(result.directory), **{k: metrics[k] for k in keys}}))
    elif not args.quiet:
        print(
            f"test accuracy {metrics['test_accuracy']:.2%}  test loss {metrics['test_loss']:.4f}  "
            f"({metrics['epochs_run']} epoch{'' if metrics['epochs_run'] == 1 else 's'}, "
            f"{metrics['train_seconds']:.1f} s)"
        )
        print(f"run directory: {result.directory}  (report: {result.directory / 'report.html'})")
    return 0


TRAIN = Command(
    name="train",
    help="train a recipe and write a run directory (model, history, metrics, report)",
    description="Train the model a recipe describes and write a run directory: the "
    "resolved recipe, history.csv, metrics.json, model.safetensors, figures/, report.md "
    "and report.html.",
    add_arguments=add_train_arguments,
    run=run_train,
)


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model.safetensors or a run directory")
    parser.add_argument(
        "--dataset",
        help="default: the data the model was trained on (for a CSV/NPZ file or a 2-D set, "
        "the same held-out test split); a .csv/.npz file here is all test data",
    )
    parser.add_argument("--split", choices=("test", "train"), default="test")
    add_data_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="only the accuracy line")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")


def run_evaluate(args: argparse.Namespace) -> int:
    from chainrule.app.run import evaluate_model

    result = evaluate_model(
        args.model,
        dataset=args.dataset,
        data_dir=args.data_dir,
        split=args.split,
        download=not args.offline,
        progress=not (args.quiet or args.json),
    )
    if args.json:
        print(to_json({k: v for k, v in result.items() if k != "report"}))
    else:
        print(
            f"{result['dataset']} {result['split']} ({result['examples']:,} examples): "
            f"accuracy {result['accuracy']:.2%}, loss {result['loss']:.4f}"
        )
        if not args.quiet:
            print(result["report"])
    return 0


EVALUATE = Command(
    name="evaluate",
    help="accuracy, loss and per-class metrics of a saved model on a dataset",
    description="Evaluate a model file on a dataset split, with the preprocessing stored "
    "in the model file.",
    add_arguments=add_evaluate_arguments,
    run=run_evaluate,
)


def add_run_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")


def run_diagnose(args: argparse.Namespace) -> int:
    from chainrule.training.diagnostics import format_reading, load_records

    print(format_reading(load_records(Path(args.run_dir) / "diagnostics.csv")))
    return 0


DIAGNOSE = Command(
    name="diagnose",
    help="what a run's per-layer diagnostics say, as a table and in plain words",
    description="Read a run's diagnostics.csv (train with --diagnostics) and say what it "
    "shows: vanishing or exploding gradients, saturated units, dead ReLUs, a learning rate "
    "too high or too low.",
    add_arguments=add_run_dir_argument,
    run=run_diagnose,
)


def run_plot(args: argparse.Namespace) -> int:
    from chainrule.app.run import replot

    directory = replot(args.run_dir)
    print(f"figures and report rewritten in {directory}")
    return 0


PLOT = Command(
    name="plot",
    help="redraw a run's figures and report from its files",
    description="Redraw the curves, confusion matrix and weight images of a run directory "
    "and rewrite its report.",
    add_arguments=add_run_dir_argument,
    run=run_plot,
)
