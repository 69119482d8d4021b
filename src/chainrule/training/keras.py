"""Keras habits: ``compile``, ``fit``, ``evaluate`` and ``predict`` on a Sequential model.

Most learners arrive from a Keras tutorial. With only the imports changed, this runs::

    from chainrule import Dense, Sequential

    model = Sequential()
    model.add(Dense(128, activation="relu"))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train_images, train_labels, epochs=5, batch_size=32, validation_split=0.1)
    model.summary()
    test_loss, test_acc = model.evaluate(test_images, test_labels)

Where it lives, and why. The engine's ``chainrule.nn.model.Sequential`` owns everything about
the network itself: ``add``, building for the first data's shape, forward, backward,
``predict_proba``, the summary, save and load. Training belongs to ``Trainer``, one floor up,
and the engine must not import its own trainer (``nn`` imports nothing of ``training``), so
``fit`` cannot be a method of the engine's class. This module's ``Sequential`` is a subclass
on the training floor that adds the Keras training methods and nothing else:

* ``compile`` resolves the optimizer, loss and metric names;
* ``fit`` is ``Trainer.fit`` underneath: the same loop, the same ``History``, the same
  callbacks and the same seeded batch order, so a hand-written loop (forward, loss, backward,
  step) from the same seed gives bit-identical weights (``examples/manual_loop.py``);
* ``evaluate`` is ``Trainer.evaluate``, returned the way Keras returns it;
* ``predict`` returns the network's outputs (probabilities after softmax), as Keras does —
  the engine's ``predict`` returns classes; here ``np.argmax(model.predict(x), axis=1)``, as
  in Keras, or ``chainrule.nn.model.classes_of``;
* ``summary`` prints the table (Keras prints it; the engine's returns the text).

A subclass rather than a wrapper: everything that takes an engine model (``Trainer``,
``explain.derive``, ``gradcheck``, ``to_torch``, ``save``) takes this one unchanged, and
``model.layers``, ``model.params`` are the engine's own. Rather than free functions: the
habit being served is ``model.fit(...)``.

What Keras does, done the same way: the inputs are used as given — uint8 images of 0..255 are
cast to float32, never rescaled (divide by 255 yourself, or use ``chainrule.data.scale``);
images of 28x28 need a ``Flatten()`` first layer before Dense layers, and without one the
error says so; ``validation_split`` holds out the *last* fraction of the examples, before any
shuffling. Labels may be integer classes or one-hot rows for either cross-entropy name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.nn.losses import LOSSES, Loss, get_loss
from chainrule.nn.model import Sequential as EngineSequential
from chainrule.nn.optim import Optimizer, get_optimizer
from chainrule.training.callbacks import Callback
from chainrule.training.history import History
from chainrule.training.trainer import Trainer
from chainrule.utils.validation import check_number

#: Keras loss names that are spelled differently here. The project's categorical
#: cross-entropy takes integer labels as well as one-hot rows, so Keras's "sparse" variant is
#: the same loss (Keras itself would refuse one-hot rows for it).
KERAS_LOSSES = {"sparse_categorical_crossentropy": "categorical_crossentropy"}
#: Keras metric names for what ``Trainer`` measures: the fraction of correct predictions
#: (argmax against the label or one-hot row; output > 0.5 for one sigmoid unit).
ACCURACY_NAMES = (
    "accuracy",
    "acc",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "binary_accuracy",
)
VERBOSE = (0, 1, 2, "auto")


class Sequential(EngineSequential):
    """The engine's ``Sequential`` with Keras's ``compile``/``fit``/``evaluate``/``predict``.

    Constructed exactly like the engine's (``Sequential()``, ``Sequential([Dense(64), ...],
    input_shape=(784,), seed=0)``); ``seed`` (default 0) draws the initial weights and the
    dropout masks, ``fit(seed=...)`` the batch order, so a script gives the same run each time.
    """

    def __init__(self, layers: Sequence[Any] = (), loss: Any = None, **options: Any) -> None:
        super().__init__(layers, loss, **options)
        self.optimizer: Optimizer | None = None
        self.metrics: list[str] = []
        self.history: History | None = None

    def compile(
        self,
        optimizer: str | dict[str, Any] | Optimizer,
        loss: str | dict[str, Any] | Loss | None = None,
        metrics: Sequence[str] | str | None = None,
    ) -> None:
        """Choose the optimizer, the loss and the metrics ``evaluate`` reports.

        ``optimizer``: a name (``"adam"``, ``"sgd"``, ``"rmsprop"`` …), a mapping
        (``{"name": "adam", "learning_rate": 3e-4}``) or an optimizer (``cr.optim.Adam()``).
        Names take this project's defaults, which follow PyTorch; Adam's and SGD's match
        Keras's, RMSProp's and AdaGrad's learning rate is 0.01 here (Keras: 0.001) — pass an
        optimizer to choose. Unlike Keras there is no default optimizer, so none is chosen
        silently.
        ``loss``: ``"categorical_crossentropy"``, ``"sparse_categorical_crossentropy"``,
        ``"binary_crossentropy"``, ``"mse"``, a mapping or a loss; ``None`` keeps the loss the
        model was built with. ``metrics``: ``["accuracy"]`` (or Keras's other accuracy names)
        or none.
        """
        # Everything is checked before anything changes: a failed compile changes nothing.
        resolved_loss = _resolve_loss(loss) if loss is not None else self.loss
        if resolved_loss is None:
            raise ValueError(
                f"compile: the model has no loss; pass loss=..., one of {_loss_names()}"
            )
        resolved_optimizer = get_optimizer(optimizer)
        self.metrics = _check_metrics(metrics)
        self.optimizer = resolved_optimizer
        self.set_loss(resolved_loss)

    def fit(
        self,
        x: Any,
        y: Any,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        seed: int = 0,
    ) -> History:
        """Train with ``Trainer.fit``: ``epochs`` passes over ``x`` in batches of ``batch_size``
        (default 32, as Keras), shuffled with ``seed`` each epoch; returns the ``History``
        (``history["val_accuracy"]`` …), also kept as ``model.history``.

        ``validation_split``: the fraction of examples held out for validation — the last
        ones, before shuffling, as Keras does; ``validation_data=(x_val, y_val)`` overrides
        it. ``verbose=0`` trains quietly; any other value shows the progress bar.
        ``callbacks``: chainrule callbacks (``EarlyStopping``, schedules …).
        The first ``fit`` builds the model for ``x``'s shape if no input shape was given.
        """
        optimizer = self._require_compiled("fit")
        x = np.asarray(x)
        if not self.built:
            self._build_for(x)  # the first data fixes the input shape (Keras's lazy build)
        trainer = Trainer(
            self,
            optimizer,
            epochs=epochs,
            batch_size=32 if batch_size is None else batch_size,
            shuffle=shuffle,
            seed=seed,
            callbacks=list(callbacks or []),
            progress=_check_verbose(verbose) != 0,
        )
        if validation_data is None and validation_split:
            (x, y), validation_data = split_validation(x, y, validation_split)
        self.history = trainer.fit(x, y, validation_data=validation_data)
        return self.history

    def evaluate(
        self, x: Any, y: Any, batch_size: int | None = None, verbose: int | str = "auto"
    ) -> float | list[float]:
        """The loss (data term plus L2) on ``x``, ``y`` in inference mode — or, when
        ``compile`` named metrics, ``[loss, accuracy]`` as Keras returns them, so
        ``test_loss, test_acc = model.evaluate(x, y)`` unpacks. ``batch_size`` only sizes the
        chunks (default 2048); ``verbose`` is accepted for Keras's sake (nothing is printed)."""
        optimizer = self._require_compiled("evaluate")
        _check_verbose(verbose)
        x = np.asarray(x)
        if not self.built:
            self._build_for(x)
        trainer = Trainer(self, optimizer, progress=False)
        chunk = {} if batch_size is None else {"batch_size": batch_size}
        loss, accuracy = trainer.evaluate(x, y, **chunk)
        if not self.metrics:
            return loss
        return [loss, *(accuracy for _ in self.metrics)]

    def predict(
        self, x: Any, batch_size: int | None = None, verbose: int | str = "auto"
    ) -> np.ndarray:
        """The network's outputs for ``x`` (class probabilities after softmax), as Keras
        returns them; the class is ``np.argmax(model.predict(x), axis=1)``."""
        _check_verbose(verbose)
        if batch_size is None:
            return self.predict_proba(x)
        return self.predict_proba(x, batch_size=batch_size)

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print the layer table (Keras prints; ``print_fn`` receives the whole text)."""
        print_fn(super().summary())

    def _require_compiled(self, method: str) -> Optimizer:
        if self.optimizer is None:
            raise RuntimeError(
                f"{method}() needs a compiled model: call model.compile(optimizer='adam', "
                "loss='categorical_crossentropy', metrics=['accuracy']) first"
            )
        return self.optimizer


def split_validation(
    x: Any, y: Any, fraction: float
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x_train, y_train), (x_val, y_val)): the last ``fraction`` of the examples held out,
    before any shuffling (Keras's ``validation_split``: the first ⌊n (1 - fraction)⌋ train)."""
    check_number(fraction, "validation_split", 0, 1, strict=True, strict_maximum=True)
    x, y = np.asarray(x), np.asarray(y)
    if y.shape[:1] != x.shape[:1]:
        raise ValueError(f"fit: {x.shape[0]} examples but {y.shape[0]} labels")
    split_at = math.floor(x.shape[0] * (1 - fraction))
    if split_at == 0 or split_at == x.shape[0]:
        raise ValueError(
            f"validation_split={fraction!r} of {x.shape[0]} examples leaves "
            f"{split_at} for training and {x.shape[0] - split_at} for validation; both need one"
        )
    return (x[:split_at], y[:split_at]), (x[split_at:], y[split_at:])


def _resolve_loss(spec: str | dict[str, Any] | Loss) -> Loss:
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_")
        if key in KERAS_LOSSES:
            return get_loss(KERAS_LOSSES[key])
        try:
            LOSSES.canonical(spec)
        except ValueError:
            raise ValueError(
                f"compile: unknown loss {spec!r}; valid losses: {_loss_names()}"
            ) from None
    return get_loss(spec)


def _loss_names() -> str:
    return ", ".join([*LOSSES.names(), *KERAS_LOSSES])


def _check_metrics(metrics: Sequence[str] | str | None) -> list[str]:
    names = [metrics] if isinstance(metrics, str) else list(metrics or [])
    for name in names:
        if not isinstance(name, str) or name.strip().lower() not in ACCURACY_NAMES:
            raise ValueError(
                f"compile: unknown metric {name!r}; valid metrics: {', '.join(ACCURACY_NAMES)}"
            )
    return names


def _check_verbose(verbose: int | str) -> int | str:
    if isinstance(verbose, bool) or verbose not in VERBOSE:
        raise ValueError(f"verbose must be one of {', '.join(map(repr, VERBOSE))}, got {verbose!r}")
    return verbose
