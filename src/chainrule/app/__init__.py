"""The application: recipes (the validated YAML schema), ``train_recipe`` (recipe → run
directory) and ``predict`` (a trained model on your own images).

Builds on every library floor below it; ``sweep``, ``serve`` and the CLI call it.
"""
