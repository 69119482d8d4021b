"""Training: ``Trainer.fit`` and what it calls — batches, data parallelism, callbacks
(early stopping, learning-rate schedules, progress, diagnostics), checkpoints and resume.

Imports ``chainrule.nn`` and ``chainrule.utils`` only; reports and the CLI read what it writes.
"""
