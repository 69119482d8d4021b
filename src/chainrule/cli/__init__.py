"""The ``chainrule`` command: one subcommand per job, each a small function that calls the
library floors. Nothing below imports it."""

from chainrule.cli.main import main

__all__ = ["main"]
