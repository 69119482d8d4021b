"""The classroom: what a course does with the worked example — a different backprop exercise
for every student (sheet without answers, answer key, LaTeX/PDF) and ``check``, which grades
hand-worked numbers step by step with error carried forward and names the usual mistakes.

Builds on ``explain`` (one worked record, many views) and ``reporting`` (the document model);
the CLI and the pages call it, never the reverse.
"""
