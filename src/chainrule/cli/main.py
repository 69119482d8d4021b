"""The ``chainrule`` command: one entry point, one subcommand per job.

The subcommands are a table (``COMMANDS``), in the order ``chainrule --help`` lists them; each
row is a ``Command`` from a group module (``runs``, ``predicting``, ``sweeps``, ``datasets``,
``explaining``) that adds its own options and runs its own small function.

Every user mistake (a bad recipe, a missing file, a bad argument) ends in one line on stderr
that says what to fix, with exit code 2; a traceback means a bug in chainrule.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from chainrule import __version__
from chainrule.cli import datasets, exercises, explaining, grading, predicting, runs, sweeps
from chainrule.cli.command import (
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Command,
    CommandError,
)

EXIT_BROKEN_PIPE = 128 + 13  # killed-by-SIGPIPE, as a shell reports it

COMMANDS: tuple[Command, ...] = (
    runs.SUMMARY,
    runs.TRAIN,
    runs.EVALUATE,
    predicting.PREDICT,
    predicting.SERVE,
    sweeps.SWEEP,
    sweeps.COMPARE,
    runs.DIAGNOSE,
    runs.PLOT,
    datasets.DATASETS,
    explaining.EXPLAIN,
    explaining.DERIVE,
    explaining.GRAPH,
    exercises.EXERCISE,
    grading.CHECK,
)


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    """The argparse parser: ``--version`` and one subparser per row of ``commands``."""
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Neural networks from scratch in NumPy, every gradient derived by hand.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for command in commands:
        subparser = subparsers.add_parser(
            command.name, help=command.help, description=command.description
        )
        command.add_arguments(subparser)
        subparser.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return its exit code.

    Exit codes: 0 done, 2 a user mistake (one line on stderr), 3 training diverged,
    130 interrupted (with how to resume a training run), 141 the reader of stdout closed it
    early (``chainrule check ... | head``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    from chainrule.training.trainer import (
        TrainingDiverged,
        TrainingInterrupted,
        float_warnings_off,
    )

    try:
        # NumPy's overflow and invalid-value warnings never reach the terminal: the inf or NaN
        # they leave is what the checks report (diverged training, a refused model file)
        with float_warnings_off():
            code = handler(args)
            # flushed here, not at interpreter exit, so a closed pipe is caught just below
            sys.stdout.flush()
            return code
    except BrokenPipeError:
        return _reader_went_away()
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
        return EXIT_INTERRUPTED
    except KeyboardInterrupt as stopped:
        # train's RunInterrupted says what is on disk (nothing yet, or what --resume continues
        # from); a bare Ctrl-C elsewhere has nothing to add
        print(str(stopped) or "interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _reader_went_away() -> int:
    """Exit quietly when stdout's reader has closed the pipe (``| head``).

    Python's documented recipe (the note on SIGPIPE in the ``signal`` docs): point stdout at
    devnull so the interpreter's final flush cannot raise a second time. The exit code is 141
    (128 + SIGPIPE), what ``yes | head`` gives, so a script with ``set -o pipefail`` learns the
    output was cut short instead of seeing a success.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no real file (captured by a test harness)
        pass
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
