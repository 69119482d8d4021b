"""Subcommands for many runs: sweep (train a grid) and compare (rank and draw them together)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chainrule.cli.command import (
    EXIT_USAGE,
    Command,
    CommandError,
    add_data_arguments,
    add_set_argument,
    to_json,
)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grid", metavar="GRID", help="grid YAML (see recipes/grid-*.yaml)")
    parser.add_argument("--out", metavar="DIR", help="sweep directory (default runs/sweeps/NAME)")
    parser.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    parser.add_argument("--resume", action="store_true", help="skip finished runs, redo the rest")
    parser.add_argument("--epochs", type=int, help="cap every run's epochs (quick looks)")
    parser.add_argument("--dataset", help="mnist, fashion-mnist, kmnist, or a folder of IDX files")
    add_data_arguments(parser)
    add_set_argument(parser, help="override a key of the base recipe (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run_sweep(args: argparse.Namespace) -> int:
    """Exit code 2 when any run failed (its traceback is in the store), else 0."""
    import chainrule.sweep  # the library's run_sweep, not this command's

    summary = chainrule.sweep.run_sweep(
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
    print(to_json(summary.to_dict()) if args.json else summary.text())
    return 0 if summary.ok else EXIT_USAGE


SWEEP = Command(
    name="sweep",
    help="train a grid of recipes in parallel, resumably, recorded in SQLite",
    description="Expand a grid (a base recipe plus axes and/or variants) into runs and "
    "train them on local processes (--workers) or a Dask cluster (--scheduler); every "
    "result lands in SWEEP_DIR/sweep.sqlite as it finishes, and --resume finishes a "
    "stopped sweep.",
    add_arguments=add_sweep_arguments,
    run=run_sweep,
)


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directories", metavar="SWEEP_DIR|RUN_DIR", nargs="+")
    parser.add_argument(
        "--metric",
        help="rank by this final metric (default: the grid's metric, else val_accuracy; a "
        "test_ metric only when no run holds out validation data)",
    )
    parser.add_argument("--by", help="colour curves by this factor, e.g. model.activation")
    parser.add_argument(
        "--format", default="terminal", help="comma-separated: terminal, csv, markdown"
    )
    parser.add_argument(
        "--diagnostic", metavar="KEY", help="e.g. grad_norm, update_ratio, saturated, dead"
    )
    parser.add_argument("--out", metavar="PATH", help="figure path without suffix (--diagnostic)")
    parser.add_argument("--quiet", action="store_true", help="plain table")


def run_compare(args: argparse.Namespace) -> int:
    if args.diagnostic:
        return _compare_diagnostic(args)
    from chainrule.sweep import compare

    if len(args.directories) != 1:
        raise CommandError("compare takes one SWEEP_DIR (or several RUN_DIRs with --diagnostic)")
    formats = tuple(part.strip() for part in args.format.split(",") if part.strip())
    result = compare(args.directories[0], metric=args.metric, by=args.by, formats=formats)
    if "terminal" in formats and not args.quiet:
        from rich.console import Console

        console = Console()
        console.print(result.rich_table(width=console.width))  # numbers whole at any width
    else:
        print(result.text)
    for path in result.files:
        print(f"written: {path}", file=sys.stderr)
    return 0


def _compare_diagnostic(args: argparse.Namespace) -> int:
    """Runs side by side, one diagnostic: run directories, or every run of a sweep."""
    from chainrule.reporting.diagnostics_figures import plot_runs_side_by_side
    from chainrule.reporting.figures import save_figure

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


COMPARE = Command(
    name="compare",
    help="compare a sweep's runs: table, overlaid curves, per-factor charts, report",
    description="Rank a sweep's runs by a metric and write comparison.csv/.md, figures "
    "and report.html/.md into the sweep directory. With --diagnostic, draw one diagnostic "
    "of several runs (run directories or a sweep's runs) side by side.",
    add_arguments=add_compare_arguments,
    run=run_compare,
)
