"""Subcommands that grade: ``check`` (hand-worked answers, step by step, or a whole class)."""

from __future__ import annotations

import argparse

from chainrule.cli.command import EXIT_OK, Command, CommandError, to_json

EXIT_SOME_WRONG = 1  # answers were read and graded, and not all of them are right
CHECK_FORMATS = ("text", "markdown", "html")


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="the explain spec (or an exercise variant)")
    parser.add_argument(
        "answers",
        nargs="?",
        metavar="ANSWERS",
        help="answers in YAML or CSV under the names explain prints (a1[2], L, delta3[1], "
        "dL/dW1[1,1], W1[1,1] after the step, v(W1[1,1]))",
    )
    parser.add_argument(
        "--rtol",
        type=float,
        metavar="R",
        help="judge within relative tolerance R (default: at the precision each number is "
        "written to)",
    )
    parser.add_argument("--format", choices=CHECK_FORMATS, default="text", help="report format")
    parser.add_argument("--json", action="store_true", help="the structured result as JSON")
    parser.add_argument(
        "--class",
        dest="class_dir",
        metavar="DIR",
        help="grade every answers file in DIR (needs --out)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="with --class: where grades.csv, mistakes.md, feedback/ go"
    )
    parser.add_argument(
        "--weights",
        metavar="VERDICT=CREDIT,...",
        help="credit per verdict for the score, e.g. follows=0.75 (defaults: right=1, "
        "follows=0.5, wrong=0, missing=0)",
    )


def parse_weights(text: str | None) -> dict[str, float] | None:
    """``"follows=0.75,wrong=0"`` as {verdict: credit}."""
    if not text:
        return None
    weights = {}
    for part in text.split(","):
        verdict, equals, credit = part.partition("=")
        try:
            weights[verdict.strip()] = float(credit)
        except ValueError:
            equals = ""
        if not equals:
            raise CommandError(
                f"--weights takes VERDICT=CREDIT pairs like follows=0.5, got {part!r}"
            )
    return weights


def run_check(args: argparse.Namespace) -> int:
    from chainrule.classroom import check, grade_class, render_check

    weights = parse_weights(args.weights)
    if args.class_dir:
        if args.answers:
            raise CommandError("give ANSWERS or --class DIR, not both")
        if not args.out:
            raise CommandError("--class needs --out DIR for the gradebook and feedback pages")
        outcome = grade_class(args.spec, args.class_dir, args.out, weights=weights, rtol=args.rtol)
        if args.json:
            print(
                to_json(
                    {
                        "students": [r.to_dict(weights) for r in outcome.results],
                        "errors": outcome.errors,
                        "written": [str(p) for p in outcome.written],
                    },
                    indent=2,
                )
            )
        else:
            print(f"graded {len(outcome.results)} submission(s); written to {args.out}:")
            for name, count in outcome.mistakes().most_common(3):
                print(f"  {count} × {name}")
            for student, error in outcome.errors.items():
                print(f"  not graded: {student}: {error}")
        if outcome.errors:
            return 2
        return EXIT_OK if outcome.all_right else EXIT_SOME_WRONG
    if not args.answers:
        raise CommandError("give an ANSWERS file, or --class DIR --out DIR")
    if args.out:
        raise CommandError("--out goes with --class; a single check prints its report")
    result = check(args.spec, args.answers, rtol=args.rtol)
    if args.json:
        print(to_json(result.to_dict(weights), indent=2))
    else:
        print(render_check(result, args.format))
    return EXIT_OK if result.all_right else EXIT_SOME_WRONG


CHECK = Command(
    name="check",
    help="grade hand-worked backprop answers step by step (or a class's, with --class)",
    description="Check a student's numbers for the worked example of SPEC, quantity by "
    "quantity in step order: right (at the precision written), following from an earlier "
    "wrong value of theirs (error carried forward), or wrong, with the usual mistake that "
    "reproduces it. Exit 0 when all are right, 1 when some are not, 2 on bad input.",
    add_arguments=add_check_arguments,
    run=run_check,
)
