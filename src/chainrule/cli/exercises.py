"""``chainrule exercise``: a different backprop exercise for every student, sheet and key.

    chainrule exercise examples/relu-tanh-sigmoid-mse.yaml --students roster.csv --seed 7
    chainrule exercise examples/conv-stride2-padded.yaml --variants 30 --out conv-homework
    chainrule exercise --arch 3-3-2-2 --activations relu,tanh,sigmoid --loss mse \\
        --optimizer gd --variants 120 --out homework
"""

from __future__ import annotations

import argparse
import os

from chainrule.cli.command import Command, CommandError
from chainrule.cli.explaining import parse_arch


def add_exercise_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec", nargs="?", metavar="SPEC", help="explain spec used as the template (or --arch)"
    )
    shape = parser.add_argument_group("the network, without a SPEC")
    shape.add_argument("--arch", help="layer sizes, e.g. 3-3-2-2")
    shape.add_argument("--activations", help="one per layer, e.g. relu,tanh,sigmoid")
    shape.add_argument(
        "--loss", default="mse", help="mse, binary_crossentropy, categorical_crossentropy"
    )
    shape.add_argument(
        "--reduction", choices=("mean", "sum", "half_sum"), help="MSE's reduction (default mean)"
    )
    shape.add_argument(
        "--optimizer",
        default="gd",
        help="any optimizer the worked example writes out: gd, momentum (PyTorch's form), "
        "classic_momentum (v ← μv - ηg), nesterov, adam (default gd)",
    )
    shape.add_argument("--learning-rate", type=float, default=0.1, help="default 0.1")
    shape.add_argument(
        "--momentum", type=float, help="μ for momentum, classic_momentum and nesterov"
    )
    shape.add_argument("--biases", choices=("trained", "frozen"), default="trained")
    shape.add_argument("--steps", type=int, default=1, help="training steps to work (default 1)")
    shape.add_argument(
        "--jacobian",
        action="store_true",
        help="take the output activation's derivative on its own (softmax: its Jacobian) "
        "instead of fusing it with the loss",
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--variants", type=int, metavar="N", help="N variants, variant-001 ...")
    who.add_argument("--students", metavar="CSV", help="roster: one variant per student id")
    parser.add_argument("--seed", type=int, default=0, help="class seed (default 0)")
    parser.add_argument("--decimals", type=int, default=1, help="decimals of drawn values (1)")
    parser.add_argument(
        "--vary", default="inputs,weights,biases,targets", help="kinds drawn anew (default all)"
    )
    parser.add_argument(
        "--range",
        action="append",
        default=[],
        metavar="KIND=LOW:HIGH",
        help="range of one kind, e.g. weights=-0.5:0.5 (repeatable)",
    )
    parser.add_argument(
        "--tasks",
        default="forward,loss,deltas,dx,gradients,update",
        help="of forward,loss,deltas,dx,gradients,update,paths (dx: a conv spec's dL/dx)",
    )
    parser.add_argument(
        "--weights", help="parameters for gradients/update/paths, e.g. W1[1,1],W3[2,1]"
    )
    parser.add_argument(
        "--answer-decimals", type=int, default=4, help="decimals answers are rounded to (4)"
    )
    parser.add_argument(
        "--margin", type=float, default=0.05, help="reject |z| below this at a ReLU kink (0.05)"
    )
    parser.add_argument("--out", default="exercise", metavar="DIR", help="output folder")
    pdfs = parser.add_mutually_exclusive_group()
    pdfs.add_argument("--pdf", dest="pdf", action="store_true", default=None, help="require PDFs")
    pdfs.add_argument("--no-pdf", dest="pdf", action="store_false", help="no PDFs")
    parser.add_argument("--no-diagram", action="store_true", help="leave the network diagram out")
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)"
    )


def _names(text: str | None) -> list[str]:
    """``"a,b"`` -> ["a", "b"]; commas inside brackets (W1[1,1]) stay."""
    if not text:
        return []
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [part for part in parts if part]


def _ranges(items: list[str]) -> dict[str, tuple[float, float]]:
    ranges = {}
    for item in items:
        kind, _, bounds = item.partition("=")
        low, _, high = bounds.partition(":")
        try:
            ranges[kind.strip()] = (float(low), float(high))
        except ValueError:
            raise CommandError(
                f"--range takes KIND=LOW:HIGH, e.g. weights=-0.5:0.5, got {item!r}"
            ) from None
    return ranges


def _template(args: argparse.Namespace) -> dict:
    from chainrule.classroom.variants import template_from_flags
    from chainrule.utils.yamlfile import read_yaml_mapping

    if args.spec:
        if args.arch or args.activations:
            raise CommandError("give a SPEC or --arch/--activations, not both")
        from chainrule.explain import load_spec

        load_spec(args.spec)  # the template itself must be a valid spec
        return read_yaml_mapping(args.spec, "a spec")
    if not (args.arch and args.activations):
        raise CommandError(
            "give a SPEC template, or --arch 3-3-2-2 --activations relu,tanh,sigmoid"
        )
    loss = {"name": args.loss, "reduction": args.reduction} if args.reduction else args.loss
    optimizer = {"name": args.optimizer, "learning_rate": args.learning_rate}
    if args.momentum is not None:
        optimizer["momentum"] = args.momentum
    return template_from_flags(
        parse_arch(args.arch),
        _names(args.activations),
        loss,
        optimizer,
        update={"biases": args.biases == "trained"},
        steps=args.steps,
        fuse=not args.jacobian,
        title="Backpropagation exercise",
    )


def run_exercise(args: argparse.Namespace) -> int:
    from chainrule.classroom.assignment import ExerciseSettings
    from chainrule.classroom.exercise import numbered_students, read_roster, write_exercise
    from chainrule.classroom.variants import KINDS, DrawSettings
    from chainrule.classroom.wellposed import GuardSettings

    vary = tuple(_names(args.vary))
    if not args.spec and set(vary) != set(KINDS):
        raise CommandError("with --arch every value is drawn; --vary needs a SPEC template")
    template = _template(args)
    settings = ExerciseSettings(
        draw=DrawSettings(args.seed, vary, _ranges(args.range), args.decimals),
        guard=GuardSettings(margin=args.margin, decimals=args.answer_decimals),
        tasks=tuple(_names(args.tasks)),
        weights=tuple(_names(args.weights)),
    )
    students = read_roster(args.students) if args.students else numbered_students(args.variants)
    result = write_exercise(
        template,
        students,
        args.out,
        settings,
        pdf=args.pdf,
        diagrams=not args.no_diagram,
        jobs=args.jobs,
    )
    print(f"{len(result.variants)} variants written to {args.out} in {result.seconds:.1f} s")
    print(f"index: {result.index}")
    for bundle in result.bundles:
        print(f"bundle: {bundle}")
    print(result.rejections.describe())
    return 0


EXERCISE = Command(
    name="exercise",
    help="a different backprop exercise for every student: sheet, answer key, answers",
    description="Draw hand-friendly numbers for every student (a pure function of the seed "
    "and the student's id) into an explain spec or an --arch network, reject draws that are "
    "not well posed (a ReLU on its kink, saturation, softmax ties, a max-pooling window's "
    "tied maxima, a dead layer, a gradient lost to rounding), and write each student's "
    "problem sheet, answer key and answers (Markdown, LaTeX, PDF when pdflatex is "
    "installed), an index CSV and class bundles. A convolutional spec draws its image and "
    "kernels and asks for feature maps, pooled maps, δ, dL/dx, dW and the updated kernel.",
    add_arguments=add_exercise_arguments,
    run=run_exercise,
)
