"""Training: ``Trainer.fit``, the ``History`` it returns, and what it calls — batches, data
parallelism, callbacks (early stopping, learning-rate schedules, progress, diagnostics),
checkpoints and resume.

``keras`` gives the Keras habits on top: ``cr.Sequential`` with ``compile``, ``fit``,
``evaluate`` and ``predict``, ``fit`` being ``Trainer.fit`` underneath. Learning-rate
schedules live here rather than in the engine because each is a callback of the loop.

Imports only the floors below it (``utils``, ``nn``, ``data``); reports and the CLI read what
it writes.
"""
