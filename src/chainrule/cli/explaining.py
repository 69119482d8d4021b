"""Subcommands that show the math: explain (a worked example), derive (the general equations)
and graph (computation graphs and network diagrams)."""

from __future__ import annotations

import argparse
from pathlib import Path

from chainrule.cli.command import Command, CommandError, add_set_argument
from chainrule.reporting.formats import FORMATS as DOCUMENT_FORMATS


def add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="worked-example YAML (see examples/)")
    parser.add_argument("--digits", type=int, default=4, help="digits shown (default 4)")
    parser.add_argument("--format", choices=DOCUMENT_FORMATS, default="text", help="output format")
    parser.add_argument(
        "--paths",
        action="append",
        metavar="PARAM",
        help="list every chain-rule path from the loss to PARAM, e.g. 'W1[1,1]' (repeatable)",
    )
    parser.add_argument("--out", metavar="FILE", help="write to FILE instead of printing")


def run_explain(args: argparse.Namespace) -> int:
    from chainrule.explain import explain

    text = explain(args.spec, digits=args.digits, fmt=args.format, paths=args.paths or None)
    _emit(text, args.out)
    return 0


EXPLAIN = Command(
    name="explain",
    help="backpropagation worked by hand on a tiny network with explicit numbers",
    description="Work a tiny network (explicit weights, textbook layout z = Wx + b) "
    "through the forward pass, the loss, the backward pass and the update, every number "
    "with its arithmetic, checked against the engine and finite differences.",
    add_arguments=add_explain_arguments,
    run=run_explain,
)


def add_derive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", nargs="?", metavar="RECIPE", help="recipe YAML (optional)")
    parser.add_argument("--arch", help="layer sizes, e.g. 784-64-10")
    parser.add_argument("--activation", help="hidden activation, e.g. sigmoid")
    parser.add_argument("--output", choices=("softmax", "sigmoid", "identity"))
    parser.add_argument("--loss", help="mse, binary_crossentropy, categorical_crossentropy")
    parser.add_argument(
        "--optimizer",
        help="sgd, momentum, classic_momentum, nesterov, adagrad, rmsprop, adam, adamw",
    )
    add_set_argument(parser)
    parser.add_argument(
        "--format", choices=DOCUMENT_FORMATS, default="markdown", help="output format"
    )
    parser.add_argument("--out", metavar="FILE", help="write to FILE instead of printing")


def run_derive(args: argparse.Namespace) -> int:
    """The options become recipe overrides, so a recipe and the command line mix freely."""
    from chainrule.app.recipes import load_recipe, parse_recipe
    from chainrule.explain.derivation import derive

    overrides = list(args.set)
    if args.arch:
        sizes = parse_arch(args.arch)
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


def parse_arch(text: str) -> list[int]:
    """``"784-64-10"`` (or ``784x64x10``) as layer sizes: input, hidden..., output."""
    try:
        sizes = [int(part) for part in text.replace("x", "-").split("-")]
    except ValueError:
        sizes = []
    if len(sizes) < 2 or min(sizes) < 1:
        raise CommandError(f"--arch takes layer sizes like 784-64-10, got {text!r}")
    return sizes


DERIVE = Command(
    name="derive",
    help="the vectorized equations of one training step, with every matrix shape",
    description="The general equations of one training step (forward, output delta, "
    "delta recursion, gradients, update rule) for a recipe's architecture, or one given "
    "with --arch/--activation/--loss/--optimizer.",
    add_arguments=add_derive_arguments,
    run=run_derive,
)


def add_graph_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="RECIPE|SPEC")
    parser.add_argument("--backward", action="store_true", help="the backward graph")
    parser.add_argument("--diagram", action="store_true", help="neurons and weighted edges")
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="where to write: a FILE ending in .svg/.png/.pdf/.dot writes exactly that file "
        "(in that format); any other PATH is a stem that gets -forward, -backward or -network "
        "and one suffix per --formats (default: the source's path without its suffix)",
    )
    parser.add_argument(
        "--formats",
        default=None,
        help="comma-separated: svg,png,pdf,dot (default svg,png, or the suffix of --out FILE)",
    )
    parser.add_argument(
        "--engine", choices=("auto", "graphviz", "matplotlib"), default="auto", help="renderer"
    )


def run_graph(args: argparse.Namespace) -> int:
    from chainrule.explain.graph import network_diagram, render_graph

    model = _model_from_recipe_or_spec(Path(args.source))
    kind = "network" if args.diagram else "backward" if args.backward else "forward"
    base, formats = _graph_target(args.source, args.out, args.formats, kind)
    if args.diagram:
        written = network_diagram(model, base, formats=formats)
    else:
        written = render_graph(
            model, base, backward=args.backward, formats=formats, engine=args.engine
        )
    for path in written:
        print(path)
    return 0


def _graph_target(
    source: str, out: str | None, formats_text: str | None, kind: str
) -> tuple[Path, tuple[str, ...]]:
    """The path without suffix and the formats that ``graph`` writes.

    One call draws one picture, so ``--out g.png`` means exactly ``g.png``: its suffix is the
    format (``--formats``, if given, must agree). Without a format suffix ``--out`` is a stem,
    ``g`` -> ``g-forward.svg``, ``g-forward.png``, so the three kinds never overwrite each other.
    """
    from chainrule.explain.graph import GRAPH_FORMATS

    formats = tuple(part.strip() for part in (formats_text or "").split(",") if part.strip())
    named = Path(out) if out else None
    if named is not None and named.suffix.lstrip(".").lower() in GRAPH_FORMATS:
        fmt = named.suffix.lstrip(".").lower()
        if formats and formats != (fmt,):
            raise CommandError(
                f"--out {out} names one {fmt} file, but --formats asks for "
                f"{','.join(formats)}; drop --formats, or give --out a path without a suffix"
            )
        return named.with_suffix(""), (fmt,)
    stem = named if named is not None else Path(source).with_suffix("")
    return stem.with_name(f"{stem.name}-{kind}"), formats or ("svg", "png")


GRAPH = Command(
    name="graph",
    help="draw the forward or backward computation graph, or the network diagram",
    description="Draw the computation graph of a recipe's or spec's network (Graphviz "
    "when installed, else matplotlib), or with --diagram the classic neurons-and-weights "
    "picture of a small network.",
    add_arguments=add_graph_arguments,
    run=run_graph,
)


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
    """``text`` to the file ``out`` (atomically, ending in a newline), or to stdout."""
    if out:
        from chainrule.utils.atomic import atomic_write_text

        atomic_write_text(out, text if text.endswith("\n") else text + "\n")
        print(f"written: {out}")
    else:
        print(text)
