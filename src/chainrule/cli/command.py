"""What a subcommand is, and the pieces several subcommands share.

A ``Command`` is one row of the command table in ``chainrule.cli.main``: its name, its one-line
help (shown by ``chainrule --help``), its description (shown by ``chainrule NAME --help``), a
function that adds its options to an argparse parser, and a function that runs it and returns
the exit code. Adding a subcommand is one ``Command`` in a group module and one line in the
table.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EXIT_OK = 0
EXIT_USAGE = 2  # a user mistake: one line on stderr says what to fix
EXIT_DIVERGED = 3  # training stopped at a non-finite loss or gradient
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 2."""


@dataclass(frozen=True)
class Command:
    """One subcommand of ``chainrule``: how it is described, parsed and run."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` and ``--offline``: where a command that reads a dataset finds it."""
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where the dataset's IDX files are (also $CHAINRULE_DATA); searched before the "
        "cache and /usr/share/datasets",
    )
    parser.add_argument(
        "--offline", action="store_true", help="never download; fail if the files are missing"
    )


def add_set_argument(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--set KEY=VALUE`` (repeatable): override one key of a recipe."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help)


def to_json(value: Any, **options: Any) -> str:
    """``value`` as strict JSON for ``--json``: a NaN or infinite float (a model whose outputs
    overflow scores an infinite loss) becomes ``null``, since JSON has no such number and a
    script's parser would refuse Python's bare ``NaN``."""
    return json.dumps(_finite_or_none(value), allow_nan=False, **options)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    return value
