"""chainrule: neural networks from scratch in NumPy, every gradient derived by hand.

The package face — the names a Keras or PyTorch user reaches for first::

    import chainrule as cr

    model = cr.Sequential()
    model.add(cr.Dense(128, activation="relu"))
    model.add(cr.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=5, validation_split=0.1)

==================  ========================================================================
``cr.Sequential``   the model, with Keras's compile/fit/evaluate (``training.keras``)
``cr.Dense``        the fully connected layer; every layer is in ``cr.layers``
``cr.layers``       Dense, ReLU, Softmax, Dropout, Flatten, Conv2D, MaxPool2D, BatchNorm …
``cr.optim``        SGD, Momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW
``cr.losses``       MeanSquaredError, BinaryCrossEntropy, CategoricalCrossEntropy
``cr.callbacks``    EarlyStopping and the other hooks ``fit`` calls
``cr.Trainer``      the training loop itself (``fit`` runs it)
``cr.gradcheck``    a model's backward pass against central differences (one layer's:
                    ``cr.gradcheck_layer``)
``cr.data``         datasets (MNIST, Fashion-MNIST … from IDX files), scaling, your own images
``cr.explain``      a tiny network worked out by hand: ``cr.explain.explain("spec.yaml")``
``cr.check``        hand-worked answers to it graded step by step: ``cr.check(spec, answers)``
``cr.load_recipe``  read and validate a YAML recipe
``cr.train_recipe`` train a recipe into a run directory
==================  ========================================================================

Each name is imported on first use (PEP 562's module ``__getattr__``), so ``import chainrule``
costs nothing: the command line starts without loading NumPy, and ``cr.explain`` or
``cr.load_recipe`` load their floors (pydantic, the renderers) only when asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Face name -> (module, attribute in it; None for the module itself).
FACE: dict[str, tuple[str, str | None]] = {
    "Sequential": ("chainrule.training.keras", "Sequential"),
    "Dense": ("chainrule.nn.layers", "Dense"),
    "layers": ("chainrule.nn.layers", None),
    "optim": ("chainrule.nn.optim", None),
    "losses": ("chainrule.nn.losses", None),
    "callbacks": ("chainrule.training.callbacks", None),
    "Trainer": ("chainrule.training.trainer", "Trainer"),
    "gradcheck": ("chainrule.nn.gradcheck", "gradcheck"),
    "gradcheck_layer": ("chainrule.nn.gradcheck", "gradcheck_layer"),
    "data": ("chainrule.data", None),
    "explain": ("chainrule.explain", None),
    "check": ("chainrule.classroom.grader", "check"),
    "load_recipe": ("chainrule.app.recipes", "load_recipe"),
    "train_recipe": ("chainrule.app.run", "train_recipe"),
}

__all__ = [
    "Dense",
    "Sequential",
    "Trainer",
    "__version__",
    "callbacks",
    "check",
    "data",
    "explain",
    "gradcheck",
    "gradcheck_layer",
    "layers",
    "load_recipe",
    "losses",
    "optim",
    "train_recipe",
]

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports
    from chainrule import data, explain
    from chainrule.app.recipes import load_recipe
    from chainrule.app.run import train_recipe
    from chainrule.classroom.grader import check
    from chainrule.nn import layers, losses, optim
    from chainrule.nn.gradcheck import gradcheck, gradcheck_layer
    from chainrule.nn.layers import Dense
    from chainrule.training import callbacks
    from chainrule.training.keras import Sequential
    from chainrule.training.trainer import Trainer


def __getattr__(name: str) -> Any:
    """Import a face name on first use, then keep it as a plain module attribute."""
    if name not in FACE:
        raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
    module_name, attribute = FACE[name]
    module = import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later look-ups no longer reach __getattr__
    return value


def __dir__() -> list[str]:
    """The face and the subpackages, not this module's own helpers (``FACE``, ``Any`` …)."""
    loaded = {name for name in globals() if not name.startswith("_") and name not in _PLUMBING}
    return sorted({*__all__, *loaded})


_PLUMBING = {"FACE", "TYPE_CHECKING", "Any", "annotations", "import_module"}
