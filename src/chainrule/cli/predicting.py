"""Subcommands that use a trained model: predict (your own images) and serve (a local page)."""

from __future__ import annotations

import argparse
import sys

from chainrule.cli.command import EXIT_USAGE, Command


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model.safetensors (or a run directory)")
    parser.add_argument(
        "images",
        metavar="IMAGE",
        nargs="+",
        help="image files; for a model trained on a table (CSV/NPZ, 2-D sets), CSV files of "
        "points with the model's feature columns (one prediction per row)",
    )
    parser.add_argument("--top", type=int, default=3, help="classes shown per image (3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--explain-image", metavar="OUT.png", help="save each preprocessing step side by side"
    )


def run_predict(args: argparse.Namespace) -> int:
    """Every image gets a result or an error line; any error makes the exit code 2."""
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


PREDICT = Command(
    name="predict",
    help="classify your own images (PNG/JPEG/BMP) with MNIST's preprocessing, or points",
    description="Classify images of any size, dark ink on light paper or the reverse: "
    "grey, invert if the background is light, crop to the ink, scale to 20 px, centre "
    "by mass in 28x28 (as MNIST was made), then the model's own input normalization. "
    "MODEL is a model file or a run directory. A model trained on a table (a CSV or NPZ "
    "file, a 2-D set such as moons) classifies each row of CSV files instead.",
    add_arguments=add_predict_arguments,
    run=run_predict,
)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "models",
        metavar="MODEL",
        nargs="*",
        help="model files or run directories for the digit page (the playground and the "
        "step-through page need none)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (127.0.0.1: this machine only; any other is reachable "
        "from the network, with a warning)",
    )
    parser.add_argument("--port", type=int, default=8000, help="1 to 65535 (8000)")


def run_serve(args: argparse.Namespace) -> int:
    """Check the port, load the models, bind; only then does ``run`` say where the page is."""
    from chainrule.serve.app import run
    from chainrule.utils.validation import check_integer

    port = check_integer(args.port, "--port", minimum=1, maximum=65535)
    run(args.models, host=args.host, port=port)
    return 0


SERVE = Command(
    name="serve",
    help="local pages: draw or upload a digit, step through backprop, a 2-D playground",
    description="Serve pages on this machine: draw a digit or upload a photo of one and see "
    "the preprocessing, the 28x28 input, the class probabilities and each hidden layer's "
    "activations (needs a MODEL); step through backprop; train a small network on 2-D "
    "points in the playground (/playground) and export its recipe and model file.",
    add_arguments=add_serve_arguments,
    run=run_serve,
)
