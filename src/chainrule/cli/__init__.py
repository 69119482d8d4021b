"""The ``chainrule`` command: a table of subcommands (``main.COMMANDS``), each a small function
that calls the library floors. The top floor: it may import every other, and nothing imports it.

Modules: ``main`` (the table, the parser, exit codes and error lines), ``command`` (what a
subcommand is; options several share), and one module per group of subcommands: ``runs``
(summary, train, evaluate, diagnose, plot), ``predicting`` (predict, serve), ``sweeps`` (sweep,
compare), ``datasets``, ``explaining`` (explain, derive, graph).
"""

from chainrule.cli.main import main

__all__ = ["main"]
