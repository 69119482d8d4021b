"""The engine: layers with hand-written backward passes, losses, initializers, optimizers,
the flat parameter buffers, the ``Sequential`` model and its safetensors files, and the
finite-difference gradient check.

Notation (DESIGN.md): a batch is rows, ``z = x @ W + b``, ``a = f(z)``, ``δ = dL/dz``.
This floor imports only ``chainrule.utils``; training, reporting and the CLI build on it.
"""
