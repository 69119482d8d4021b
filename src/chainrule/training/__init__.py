"""Training: ``Trainer.fit``, the ``History`` it returns, and what it calls — batches, data
parallelism, callbacks (early stopping, learning-rate schedules, progress, diagnostics),
checkpoints and resume.

Imports only the floors below it (``utils``, ``nn``, ``data``); reports and the CLI read what
it writes.
"""
