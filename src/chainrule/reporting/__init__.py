"""Reporting: one document model and its renderers, metrics, figures, and the run report.

- ``document`` — the blocks every written page is made of (heading, paragraph, equations,
  table, figure, code) and ``render(doc, fmt)``; ``render_markdown``, ``render_html``,
  ``render_latex`` and ``render_text`` each turn a document into one format. Run reports,
  sweep reports, ``derive`` and ``explain`` all build documents, so a fix to a renderer
  reaches every page.
- ``expr`` — the symbolic expression tree equations are written in; ``tex_text`` turns TeX
  into plain text.
- ``display`` — rich display in Jupyter: results show their document (``RichDisplay``), and
  ``explain``/``derive`` text shows in its own format (``Rendered``).
- ``metrics`` (accuracy, confusion matrix, per-class precision/recall/F1), ``figures``
  (matplotlib with the Agg backend), ``diagnostics_figures``, and ``report`` (a run
  directory → report.md and report.html).

Imports the engine, data and training floors below it; never explain, the application or the CLI.
"""
