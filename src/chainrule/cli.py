"""The ``chainrule`` command: one entry point, one subcommand per job.

Every user mistake (a bad recipe, a missing file, a bad argument) ends in one line on stderr
that says what to fix, with exit code 2; a traceback means a bug in chainrule.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from chainrule import __version__

EXIT_USAGE = 2


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 2."""


def _summary(args: argparse.Namespace) -> int:
    from chainrule.config import load_recipe
    from chainrule.model_file import load_model

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (CommandError, ValueError, TypeError, FileNotFoundError) as error:
        message = str(error) or type(error).__name__
        print(f"chainrule {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
