"""The engine: layers with hand-written backward passes, losses, initializers, optimizers,
the flat parameter buffers, the ``Sequential`` model and its safetensors files, and the
finite-difference gradient check.

- ``layers/``      one layer a file (Dense, activations, Dropout, Flatten, Conv2D, pooling,
                   BatchNorm); ``forward(x, training)`` caches what ``backward(dout)`` needs;
- ``formulas``     the shapes of the math descriptions each activation, loss and optimizer
                   carries beside its code (``layer.math``, ``loss.math``, ``optimizer.math``),
                   which ``derive``, ``explain`` and the graphs print;
- ``losses``, ``init``, ``optim``   the losses, initializers and update rules;
- ``params``       one flat buffer for the parameters and one for the gradients, layers hold views;
- ``model``        ``Sequential`` (build, forward, backward, predict, summary, save/load);
- ``model_file``   the safetensors container: tensors plus the architecture as JSON, no pickle;
- ``batching``     ``split_rows``/``chunk_rows``, the one way rows are cut into batches or chunks;
- ``gradcheck``, ``labels``, ``interop`` (the same network and weights in PyTorch).

Notation (DESIGN.md): a batch is rows, ``z = x @ W + b``, ``a = f(z)``, ``δ = dL/dz``.
This floor imports only ``chainrule.utils``; training, reporting and the CLI build on it.
"""
