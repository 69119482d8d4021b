"""The ``chainrule`` command: one entry point, one subcommand per job.

Every user mistake (a bad recipe, a missing file, a bad argument) ends in one line on stderr
that says what to fix, with exit code 2; a traceback means a bug in chainrule.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from chainrule import __version__

EXIT_USAGE = 2
EXIT_DIVERGED = 3


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 2."""


def _summary(args: argparse.Namespace) -> int:
    from chainrule.app.recipes import load_recipe
    from chainrule.nn.model_file import load_model

    source = Path(args.source)
    if source.suffix == ".safetensors":
        model, _ = load_model(source)
    else:
        recipe = load_recipe(source, args.set)
        model = recipe.build_model()
    if args.json:
        rows = [
            {"layer": name, "output_shape": shape, "params": count}
            for name, shape, count in model.summary_rows()
        ]
        print(json.dumps({"layers": rows, "total_params": model.count_params()}, indent=2))
    else:
        print(model.summary())
    return 0


def _train(args: argparse.Namespace) -> int:
    from chainrule.app.recipes import load_recipe
    from chainrule.app.run import train_recipe

    overrides = list(args.set)
    if args.dataset:
        overrides.append(f"data.dataset={args.dataset}")
    if args.diagnostics:
        overrides.append("training.diagnostics=true")
    if args.resume:
        if args.recipe or args.out:
            raise CommandError("--resume RUN_DIR takes no RECIPE or --out: the run has both")
        from chainrule.app.run import latest_checkpoint

        latest_checkpoint(Path(args.resume))  # a clear error before any data is loaded
        recipe = load_recipe(Path(args.resume) / "recipe.yaml", overrides)
    elif not args.recipe:
        raise CommandError("give a RECIPE to train, or --resume RUN_DIR to continue a run")
    else:
        recipe = load_recipe(args.recipe, overrides)
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
        print(json.dumps({"run_dir": str(result.directory), **{k: metrics[k] for k in keys}}))
    elif not args.quiet:
        print(
            f"test accuracy {metrics['test_accuracy']:.2%}  test loss {metrics['test_loss']:.4f}  "
            f"({metrics['epochs_run']} epochs, {metrics['train_seconds']:.1f} s)"
        )
        print(f"run directory: {result.directory}  (report: {result.directory / 'report.html'})")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from chainrule.app.predict import PredictionError, format_results, predict_files

    results = predict_files(args.model, args.images, top=args.top, explain_image=args.explain_image)
    failed = [result for result in results if isinstance(result, PredictionError)]
    if args.json:
        print(format_results(results, as_json=True))
    else:
        good = [result for result in results if not isinstance(result, PredictionError)]
        if good:
            print(format_results(good))
        for error in failed:
            print(f"chainrule predict: error: {error.path}: {error.message}", file=sys.stderr)
    if args.explain_image:
        print(f"preprocessing steps: {args.explain_image}", file=sys.stderr)
    return EXIT_USAGE if failed else 0


def _serve(args: argparse.Namespace) -> int:
    from chainrule.serve.app import run

    print(f"serving on http://{args.host}:{args.port}/  (Ctrl-C to stop)", file=sys.stderr)
    run(args.models, host=args.host, port=args.port)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from chainrule.sweep import run_sweep

    summary = run_sweep(
        args.grid,
        out_dir=args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        data_dir=args.data_dir,
        progress=not (args.quiet or args.json),
        epochs=args.epochs,
        overrides=([f"data.dataset={args.dataset}"] if args.dataset else []) + list(args.set),
        download=not args.offline,
    )
    print(json.dumps(summary.to_dict()) if args.json else summary.text())
    return 0 if summary.ok else EXIT_USAGE


def _compare(args: argparse.Namespace) -> int:
    if args.diagnostic:
        return _compare_diagnostic(args)
    from chainrule.sweep import compare

    if len(args.directories) != 1:
        raise CommandError("compare takes one SWEEP_DIR (or several RUN_DIRs with --diagnostic)")
    formats = tuple(part.strip() for part in args.format.split(",") if part.strip())
    result = compare(args.directories[0], metric=args.metric, by=args.by, formats=formats)
    if "terminal" in formats and not args.quiet:
        from rich.console import Console

        Console().print(result.rich_table())
    else:
        print(result.text)
    for path in result.files:
        print(f"written: {path}", file=sys.stderr)
    return 0


def _compare_diagnostic(args: argparse.Namespace) -> int:
    """Runs side by side, one diagnostic: run directories, or every run of a sweep."""
    from chainrule.reporting.figures import save_figure
    from chainrule.training.diagnostics import plot_runs_side_by_side

    runs: dict[str, Path] = {}
    for directory in map(Path, args.directories):
        if (directory / "diagnostics.csv").is_file():
            runs[directory.name] = directory
        elif (directory / "runs").is_dir():
            for run in sorted((directory / "runs").iterdir()):
                if (run / "diagnostics.csv").is_file():
                    runs[run.name] = run
        else:
            raise CommandError(
                f"{directory} has no diagnostics.csv (train with --diagnostics) and no runs/"
            )
    if not runs:
        raise CommandError("no run with diagnostics found; train with --diagnostics")
    out = (
        Path(args.out)
        if args.out
        else Path(args.directories[0]) / "figures" / (f"compare-{args.diagnostic}")
    )
    for path in save_figure(plot_runs_side_by_side(runs, args.diagnostic), out):
        print(path)
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from chainrule.training.diagnostics import format_reading, load_records

    print(format_reading(load_records(Path(args.run_dir) / "diagnostics.csv")))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
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
        print(json.dumps({k: v for k, v in result.items() if k != "report"}))
    else:
        print(
            f"{result['dataset']} {result['split']} ({result['examples']:,} examples): "
            f"accuracy {result['accuracy']:.2%}, loss {result['loss']:.4f}"
        )
        if not args.quiet:
            print(result["report"])
    return 0


def _plot(args: argparse.Namespace) -> int:
    from chainrule.app.run import replot

    directory = replot(args.run_dir)
    print(f"figures and report rewritten in {directory}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from chainrule.data import available_datasets, fetch, get_dataset_info

    if args.action == "list":
        for name in available_datasets():
            info = get_dataset_info(name)
            where = ", ".join(
                f"{split}: {files.images.parent}" for split, files in _on_disk(name, args).items()
            )
            print(f"{name:<14} {info.title}: {where or 'not on disk (chainrule datasets fetch)'}")
        return 0
    if not args.name:
        raise CommandError(
            f"datasets {args.action} needs a dataset name: {', '.join(available_datasets())}"
        )
    info = get_dataset_info(args.name)
    if args.action == "info":
        print(f"{info.title} ({info.name})\n{info.description}\nhomepage: {info.homepage}")
        print(f"classes: {', '.join(info.class_names)}")
        for remote in info.files():
            print(f"  {remote.name:<28} {remote.size:>12,} bytes")
        for split, files in _on_disk(info.name, args).items():
            print(f"on disk ({split}): {files.images.parent}")
        return 0
    found = fetch(info, args.cache_dir, progress=not args.quiet)
    for split, files in found.items():
        print(f"{split}: {files.images}  {files.labels}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from chainrule.explain import explain

    text = explain(args.spec, digits=args.digits, fmt=args.format, paths=args.paths or None)
    _emit(text, args.out)
    return 0


def _derive(args: argparse.Namespace) -> int:
    from chainrule.app.recipes import load_recipe, parse_recipe
    from chainrule.explain.derivation import derive

    overrides = list(args.set)
    if args.arch:
        sizes = _parse_arch(args.arch)
        overrides += [
            f"model.input_shape=[{sizes[0]}]",
            f"model.hidden={sizes[1:-1]}",
            f"model.outputs={sizes[-1]}",
        ]
    for key, value in (
        ("model.activation", args.activation),
        ("model.output", args.output),
        ("model.loss", args.loss),
        ("training.optimizer", args.optimizer),
    ):
        if value:
            overrides.append(f"{key}={value}")
    recipe = (
        load_recipe(args.recipe, overrides)
        if args.recipe
        else parse_recipe({}, "<command line>", overrides)
    )
    model = recipe.build_model()
    _emit(derive(model, recipe.build_optimizer(), fmt=args.format), args.out)
    return 0


def _parse_arch(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.replace("x", "-").split("-")]
    except ValueError:
        sizes = []
    if len(sizes) < 2 or min(sizes) < 1:
        raise CommandError(f"--arch takes layer sizes like 784-64-10, got {text!r}")
    return sizes


def _graph(args: argparse.Namespace) -> int:
    from chainrule.explain.graph import network_diagram, render_graph

    model = _model_from_recipe_or_spec(Path(args.source))
    out = Path(args.out) if args.out else Path(args.source).with_suffix("")
    formats = tuple(part.strip() for part in args.formats.split(",") if part.strip())
    if args.diagram:
        written = network_diagram(model, out.with_name(out.name + "-network"), formats=formats)
    else:
        suffix = "-backward" if args.backward else "-forward"
        written = render_graph(
            model,
            out.with_name(out.name + suffix),
            backward=args.backward,
            formats=formats,
            engine=args.engine,
        )
    for path in written:
        print(path)
    return 0


def _model_from_recipe_or_spec(path: Path):
    """A worked-example spec (explicit weights) or a recipe, told apart by their keys."""
    from chainrule.app.recipes import load_recipe
    from chainrule.utils.yamlfile import read_yaml_mapping

    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    raw = read_yaml_mapping(path, "a recipe or spec")
    if "input" in raw and "model" not in raw:
        from chainrule.explain import load_spec

        return load_spec(path).to_model()
    return load_recipe(path).build_model()


def _emit(text: str, out: str | None) -> None:
    if out:
        from chainrule.utils.atomic import atomic_write_text

        atomic_write_text(out, text if text.endswith("\n") else text + "\n")
        print(f"written: {out}")
    else:
        print(text)


def _on_disk(name: str, args: argparse.Namespace) -> dict:
    """Each split of ``name`` found on disk (no download, no error for missing splits)."""
    from chainrule.data import DatasetNotFoundError, locate

    found = {}
    for split in ("train", "test"):
        with contextlib.suppress(DatasetNotFoundError):
            found.update(locate(name, args.data_dir, splits=(split,), cache_dir=args.cache_dir))
    return found


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where the dataset's IDX files are (also $CHAINRULE_DATA); searched before the "
        "cache and /usr/share/datasets",
    )
    parser.add_argument(
        "--offline", action="store_true", help="never download; fail if the files are missing"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Neural networks from scratch in NumPy, every gradient derived by hand.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    summary = commands.add_parser(
        "summary",
        help="print the layers, output shapes and parameter counts of a recipe's model",
        description="Print the model summary (layers, output shapes, parameter counts) of a "
        "recipe (.yaml) or a saved model (.safetensors).",
    )
    summary.add_argument("source", metavar="RECIPE|MODEL", help="recipe YAML or model file")
    summary.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe key, e.g. --set model.hidden=[128,64] (repeatable)",
    )
    summary.add_argument("--json", action="store_true", help="print the summary as JSON")
    summary.set_defaults(handler=_summary)

    train = commands.add_parser(
        "train",
        help="train a recipe and write a run directory (model, history, metrics, report)",
        description="Train the model a recipe describes and write a run directory: the "
        "resolved recipe, history.csv, metrics.json, model.safetensors, figures/, report.md "
        "and report.html.",
    )
    train.add_argument("recipe", metavar="RECIPE", nargs="?", help="recipe YAML file")
    train.add_argument(
        "--resume", metavar="RUN_DIR", help="continue a stopped run from its newest checkpoint"
    )
    train.add_argument("--dataset", help="mnist, fashion-mnist, kmnist, or a folder of IDX files")
    _add_data_arguments(train)
    train.add_argument("--out", metavar="DIR", help="run directory (default: runs/<recipe name>)")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe key, e.g. --set training.epochs=3 (repeatable)",
    )
    train.add_argument(
        "--diagnostics",
        action="store_true",
        help="record per-layer gradient, update and activation statistics (diagnostics.csv)",
    )
    train.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="cores to train on (default: all); big steps such as a CNN's split each batch "
        "across them",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    train.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="accuracy, loss and per-class metrics of a saved model on a dataset",
        description="Evaluate a model file on a dataset split, with the preprocessing stored "
        "in the model file.",
    )
    evaluate.add_argument("model", metavar="MODEL", help="model.safetensors from a run")
    evaluate.add_argument("--dataset", help="default: the dataset the model was trained on")
    evaluate.add_argument("--split", choices=("test", "train"), default="test")
    _add_data_arguments(evaluate)
    evaluate.add_argument("--quiet", action="store_true", help="only the accuracy line")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.set_defaults(handler=_evaluate)

    predict = commands.add_parser(
        "predict",
        help="classify your own images (PNG/JPEG/BMP) with MNIST's preprocessing",
        description="Classify images of any size, dark ink on light paper or the reverse: "
        "grey, invert if the background is light, crop to the ink, scale to 20 px, centre "
        "by mass in 28x28 (as MNIST was made), then the model's own input normalization.",
    )
    predict.add_argument("model", metavar="MODEL", help="model.safetensors (or a run directory)")
    predict.add_argument("images", metavar="IMAGE", nargs="+")
    predict.add_argument("--top", type=int, default=3, help="classes shown per image (3)")
    predict.add_argument("--json", action="store_true", help="print the results as JSON")
    predict.add_argument(
        "--explain-image", metavar="OUT.png", help="save each preprocessing step side by side"
    )
    predict.set_defaults(handler=_predict)

    serve = commands.add_parser(
        "serve",
        help="a local page to draw a digit and watch the network respond",
        description="Serve a page on this machine: draw a digit, see the preprocessed 28x28 "
        "input, the class probabilities and each hidden layer's activations.",
    )
    serve.add_argument("models", metavar="MODEL", nargs="+", help="model files or run directories")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)

    sweep = commands.add_parser(
        "sweep",
        help="train a grid of recipes in parallel, resumably, recorded in SQLite",
        description="Expand a grid (a base recipe plus axes and/or variants) into runs and "
        "train them on local processes (--workers) or a Dask cluster (--scheduler); every "
        "result lands in SWEEP_DIR/sweep.sqlite as it finishes, and --resume finishes a "
        "stopped sweep.",
    )
    sweep.add_argument("grid", metavar="GRID", help="grid YAML (see recipes/grid-*.yaml)")
    sweep.add_argument("--out", metavar="DIR", help="sweep directory (default runs/sweeps/NAME)")
    sweep.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    sweep.add_argument("--resume", action="store_true", help="skip finished runs, redo the rest")
    sweep.add_argument("--epochs", type=int, help="cap every run's epochs (quick looks)")
    sweep.add_argument("--dataset", help="mnist, fashion-mnist, kmnist, or a folder of IDX files")
    _add_data_arguments(sweep)
    sweep.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the base recipe (repeatable)",
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress display")
    sweep.add_argument("--json", action="store_true", help="print the summary as JSON")
    sweep.set_defaults(handler=_sweep)

    compare = commands.add_parser(
        "compare",
        help="compare a sweep's runs: table, overlaid curves, per-factor charts, report",
        description="Rank a sweep's runs by a metric and write comparison.csv/.md, figures "
        "and report.html/.md into the sweep directory. With --diagnostic, draw one diagnostic "
        "of several runs (run directories or a sweep's runs) side by side.",
    )
    compare.add_argument("directories", metavar="SWEEP_DIR|RUN_DIR", nargs="+")
    compare.add_argument("--metric", default="test_accuracy", help="rank by (test_accuracy)")
    compare.add_argument("--by", help="colour curves by this factor, e.g. model.activation")
    compare.add_argument(
        "--format", default="terminal", help="comma-separated: terminal, csv, markdown"
    )
    compare.add_argument(
        "--diagnostic", metavar="KEY", help="e.g. grad_norm, update_ratio, saturated, dead"
    )
    compare.add_argument("--out", metavar="PATH", help="figure path without suffix (--diagnostic)")
    compare.add_argument("--quiet", action="store_true", help="plain table")
    compare.set_defaults(handler=_compare)

    diagnose = commands.add_parser(
        "diagnose",
        help="what a run's per-layer diagnostics say, as a table and in plain words",
        description="Read a run's diagnostics.csv (train with --diagnostics) and say what it "
        "shows: vanishing or exploding gradients, saturated units, dead ReLUs, a learning rate "
        "too high or too low.",
    )
    diagnose.add_argument("run_dir", metavar="RUN_DIR")
    diagnose.set_defaults(handler=_diagnose)

    plot = commands.add_parser(
        "plot",
        help="redraw a run's figures and report from its files",
        description="Redraw the curves, confusion matrix and weight images of a run directory "
        "and rewrite its report.",
    )
    plot.add_argument("run_dir", metavar="RUN_DIR")
    plot.set_defaults(handler=_plot)

    datasets = commands.add_parser(
        "datasets",
        help="list, describe or download the MNIST-format datasets",
        description="list: the registered datasets and where they are on disk; info NAME: "
        "files, sizes, classes; fetch NAME: download into the user cache with checksums.",
    )
    datasets.add_argument("action", choices=("list", "info", "fetch"))
    datasets.add_argument("name", nargs="?", help="mnist, fashion-mnist or kmnist")
    datasets.add_argument("--data-dir", metavar="DIR", help="also look here")
    datasets.add_argument("--cache-dir", metavar="DIR", help="download here (fetch)")
    datasets.add_argument("--quiet", action="store_true", help="no progress bar")
    datasets.set_defaults(handler=_datasets)

    explain = commands.add_parser(
        "explain",
        help="backpropagation worked by hand on a tiny network with explicit numbers",
        description="Work a tiny network (explicit weights, textbook layout z = Wx + b) "
        "through the forward pass, the loss, the backward pass and the update, every number "
        "with its arithmetic, checked against the engine and finite differences.",
    )
    explain.add_argument("spec", metavar="SPEC", help="worked-example YAML (see examples/)")
    explain.add_argument("--digits", type=int, default=4, help="digits shown (default 4)")
    explain.add_argument(
        "--format", choices=("text", "markdown", "latex"), default="text", help="output format"
    )
    explain.add_argument(
        "--paths",
        action="append",
        metavar="PARAM",
        help="list every chain-rule path from the loss to PARAM, e.g. 'W1[1,1]' (repeatable)",
    )
    explain.add_argument("--out", metavar="FILE", help="write to FILE instead of printing")
    explain.set_defaults(handler=_explain)

    derive = commands.add_parser(
        "derive",
        help="the vectorized equations of one training step, with every matrix shape",
        description="The general equations of one training step (forward, output delta, "
        "delta recursion, gradients, update rule) for a recipe's architecture, or one given "
        "with --arch/--activation/--loss/--optimizer.",
    )
    derive.add_argument("recipe", nargs="?", metavar="RECIPE", help="recipe YAML (optional)")
    derive.add_argument("--arch", help="layer sizes, e.g. 784-64-10")
    derive.add_argument("--activation", help="hidden activation, e.g. sigmoid")
    derive.add_argument("--output", choices=("softmax", "sigmoid", "identity"))
    derive.add_argument("--loss", help="mse, binary_crossentropy, categorical_crossentropy")
    derive.add_argument(
        "--optimizer", help="sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw"
    )
    derive.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    derive.add_argument(
        "--format", choices=("markdown", "latex", "text"), default="markdown", help="output format"
    )
    derive.add_argument("--out", metavar="FILE", help="write to FILE instead of printing")
    derive.set_defaults(handler=_derive)

    graph = commands.add_parser(
        "graph",
        help="draw the forward or backward computation graph, or the network diagram",
        description="Draw the computation graph of a recipe's or spec's network (Graphviz "
        "when installed, else matplotlib), or with --diagram the classic neurons-and-weights "
        "picture of a small network.",
    )
    graph.add_argument("source", metavar="RECIPE|SPEC")
    graph.add_argument("--backward", action="store_true", help="the backward graph")
    graph.add_argument("--diagram", action="store_true", help="neurons and weighted edges")
    graph.add_argument("--out", metavar="PATH", help="output path without suffix")
    graph.add_argument("--formats", default="svg,png", help="comma-separated: svg,png,pdf,dot")
    graph.add_argument(
        "--engine", choices=("auto", "graphviz", "matplotlib"), default="auto", help="renderer"
    )
    graph.set_defaults(handler=_graph)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    from chainrule.training.trainer import TrainingDiverged, TrainingInterrupted

    try:
        return handler(args)
    except TrainingDiverged as error:
        print(f"chainrule {args.command}: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    except (CommandError, ValueError, TypeError, OSError, RuntimeError) as error:
        message = getattr(error, "summary", None) or str(error) or type(error).__name__
        print(f"chainrule {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingInterrupted as stopped:
        where = f"interrupted in epoch {stopped.epoch} after step {stopped.step}"
        if stopped.checkpoint is None:
            print(where, file=sys.stderr)
        else:
            run = stopped.checkpoint.parent.parent
            print(f"{where}; saved in {stopped.checkpoint.name}: chainrule train --resume {run} "
                  "continues from there", file=sys.stderr)  # fmt: skip
        return 130
    except KeyboardInterrupt:
        hint = ""
        if args.command == "train":
            hint = "; the last epoch's checkpoint is kept: chainrule train --resume RUN_DIR"
        print(f"interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
