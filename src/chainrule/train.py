"""Training: ``Trainer.fit`` owns the loop; batching, callbacks and progress are its parts.

``fit`` reads as a table of contents: for each epoch, for each batch, ``step()``; then
``evaluate()`` on the validation set; then the callbacks. The same seed gives the same run:
the model's weights come from the model's seed, the batch order from the trainer's seed
(``np.random.default_rng(seed).permutation(n)`` once per epoch), so ``examples/manual_loop.py``
reproduces ``fit`` exactly with a hand-written loop.
"""

from __future__ import annotations

import contextlib
import csv
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from chainrule.atomic import atomic_write_text
from chainrule.callbacks import Callback
from chainrule.model import Sequential
from chainrule.optim import Optimizer

MODES = ("minibatch", "stochastic", "batch")
SMALL_BATCH = 256
EPOCH_KEYS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "seconds",
)


@dataclass
class History:
    """Per-epoch logs (one list per key, equal lengths) and the loss of every step."""

    epochs: dict[str, list[float | None]] = field(
        default_factory=lambda: {key: [] for key in EPOCH_KEYS}
    )
    step_loss: list[float] = field(default_factory=list)

    def append(self, logs: dict[str, float | None]) -> None:
        for key in EPOCH_KEYS:
            self.epochs[key].append(logs.get(key))

    def __len__(self) -> int:
        return len(self.epochs["epoch"])

    def __getitem__(self, key: str) -> list[float | None]:
        return self.epochs[key]

    def last(self) -> dict[str, float | None]:
        return {key: values[-1] for key, values in self.epochs.items()} if len(self) else {}

    def to_dict(self) -> dict[str, list[float | None]]:
        """The per-epoch lists, as ``chainrule.viz.plot_history`` takes them."""
        return {key: list(values) for key, values in self.epochs.items()}

    def to_csv(self, path: str | Path) -> None:
        lines = [",".join(EPOCH_KEYS)]
        for index in range(len(self)):
            values = (self.epochs[key][index] for key in EPOCH_KEYS)
            lines.append(",".join("" if v is None else f"{v:.10g}" for v in values))
        atomic_write_text(path, "\n".join(lines) + "\n")

    def steps_to_csv(self, path: str | Path) -> None:
        """The loss of every step, one line each (``step,loss``)."""
        lines = ["step,loss", *(f"{i},{loss:.10g}" for i, loss in enumerate(self.step_loss, 1))]
        atomic_write_text(path, "\n".join(lines) + "\n")

    @classmethod
    def from_csv(cls, path: str | Path) -> History:
        history = cls()
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                history.append({k: float(v) if v else None for k, v in row.items()})
        return history


class Trainer:
    """Fits a model with an optimizer: batching mode, validation, callbacks, progress.

    ``mode`` is ``"stochastic"`` (one example per step), ``"batch"`` (the whole training set
    per step: classic full-batch gradient descent) or ``"minibatch"`` (``batch_size``
    examples per step). The last, smaller batch of an epoch is kept.
    """

    def __init__(
        self,
        model: Sequential,
        optimizer: Optimizer,
        *,
        epochs: int = 10,
        mode: str = "minibatch",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        blas_threads: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if model.loss is None:
            raise ValueError("the model has no loss to train on; pass loss=... to Sequential")
        self.model = model
        self.optimizer = optimizer
        self.epochs = epochs
        self.mode = mode
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.callbacks = list(callbacks)
        self.augment = augment
        self.blas_threads = blas_threads
        if progress:
            from chainrule.progress import ProgressBar

            self.callbacks.append(ProgressBar())
        self.stop_training = False
        self.history = History()

    # -- the loop ---------------------------------------------------------------------------
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> History:
        """Train for ``epochs`` epochs (fewer if a callback stops it); returns the History."""
        x, y = self._check_data(x, y, "training")
        if validation_data is not None:
            validation_data = self._check_data(*validation_data, "validation")
        self.stop_training = False
        self.history = History()
        self.examples = x.shape[0]
        self.steps_per_epoch = math.ceil(self.examples / self.effective_batch_size(x.shape[0]))
        order_rng = np.random.default_rng(self.seed)
        self.augment_rng = np.random.default_rng([self.seed, 1])
        with blas_threads_for(self.effective_batch_size(x.shape[0]), self.blas_threads):
            self._fit_epochs(x, y, validation_data, order_rng)
        return self.history

    def _fit_epochs(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation_data: tuple[np.ndarray, np.ndarray] | None,
        order_rng: np.random.Generator,
    ) -> None:
        self._call("on_train_begin")
        for epoch in range(self.epochs):
            self._call("on_epoch_begin", epoch)
            started = time.perf_counter()
            learning_rate = self.optimizer.learning_rate
            train_loss, train_accuracy = self._run_epoch(x, y, order_rng)
            logs = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "train_accuracy": train_accuracy,
                "learning_rate": learning_rate,
            }
            if validation_data is not None:
                val_loss, val_accuracy = self._evaluate_checked(*validation_data)
                logs.update(val_loss=val_loss, val_accuracy=val_accuracy)
            logs["seconds"] = time.perf_counter() - started
            self.history.append(logs)
            self._call("on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        self._call("on_train_end")

    def _run_epoch(
        self, x: np.ndarray, y: np.ndarray, order_rng: np.random.Generator
    ) -> tuple[float, float]:
        """One pass over the data; returns the example-weighted mean loss and accuracy."""
        total_loss = 0.0
        correct = 0
        for xb, yb in self.batches(x, y, order_rng):
            loss, batch_correct = self.step(xb, yb)
            total_loss += loss * xb.shape[0]
            correct += batch_correct
        return total_loss / x.shape[0], correct / x.shape[0]

    def step(self, xb: np.ndarray, yb: np.ndarray) -> tuple[float, int]:
        """One update: forward, loss, backward, optimizer step. Returns (loss, correct)."""
        model = self.model
        output = model.forward_batch(xb, training=True)  # fit checked the data once
        loss = model.compute_loss(output, yb).total
        model.backward(yb)
        self.optimizer.step(model.params.data, model.params.grad_data)
        self.history.step_loss.append(loss)
        self._call("on_step_end", len(self.history.step_loss), loss)
        return loss, count_correct(output, yb)

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 2048) -> tuple[float, float]:
        """Mean data loss (plus the L2 term) and accuracy over ``x``, in inference mode."""
        return self._evaluate_checked(*self._check_data(x, y, "evaluation"), batch_size)

    def _evaluate_checked(
        self, x: np.ndarray, y: np.ndarray, batch_size: int = 2048
    ) -> tuple[float, float]:
        model = self.model
        total_loss, correct = 0.0, 0
        for start in range(0, x.shape[0], batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            output = model.forward_batch(xb, training=False)
            total_loss += model.compute_loss(output, yb).data * xb.shape[0]
            correct += count_correct(output, yb)
        l2 = model.l2.value(model.params.data[: model.params.n_regularized])
        return total_loss / x.shape[0] + l2, correct / x.shape[0]

    # -- parts ------------------------------------------------------------------------------
    def effective_batch_size(self, examples: int) -> int:
        return {"stochastic": 1, "batch": examples, "minibatch": self.batch_size}[self.mode]

    def batches(
        self, x: np.ndarray, y: np.ndarray, order_rng: np.random.Generator
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        batches = iterate_batches(
            x, y, self.effective_batch_size(x.shape[0]), order_rng if self.shuffle else None
        )
        if self.augment is None:
            yield from batches
            return
        for xb, yb in batches:
            yield self.augment(xb, self.augment_rng), yb

    def _check_data(self, x: Any, y: Any, which: str) -> tuple[np.ndarray, np.ndarray]:
        x = self.model._check_input(x)
        y = np.asarray(y)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"{which} data: {x.shape[0]} examples but {y.shape[0]} labels")
        if x.shape[0] == 0:
            raise ValueError(f"{which} data is empty")
        probe = self.model.predict_proba(x[:1])
        self.model.loss.prepare_target(y, np.broadcast_to(probe, (y.shape[0], *probe.shape[1:])))
        return x, y

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args, self)


def blas_threads_for(
    batch_size: int, threads: int | None = None
) -> contextlib.AbstractContextManager:
    """The BLAS thread cap ``Trainer.fit`` trains under (see ``Trainer``), as a context.

    A matrix product's last bits depend on how it is split across threads, so a loop that
    must reproduce ``fit`` bit for bit runs under the same cap.
    """
    if threads is None and batch_size <= SMALL_BATCH:
        threads = 1
    if threads is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def iterate_batches(
    x: np.ndarray, y: np.ndarray, batch_size: int, order_rng: np.random.Generator | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of (x, y) in a fresh random order per call (or in order without a generator)."""
    n = x.shape[0]
    if order_rng is None:
        for start in range(0, n, batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]
        return
    order = order_rng.permutation(n)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        yield np.take(x, index, axis=0), np.take(y, index, axis=0)


def count_correct(output: np.ndarray, y: np.ndarray) -> int:
    """How many predictions in ``output`` match ``y`` (labels, one-hot rows or 0/1 targets)."""
    if output.ndim == 2 and output.shape[1] == 1:
        predicted = output[:, 0] > 0.5
        target = np.asarray(y).reshape(-1) > 0.5
        return int(np.count_nonzero(predicted == target))
    predicted = np.argmax(output, axis=1)
    labels = y if np.ndim(y) == 1 else np.argmax(y, axis=1)
    return int(np.count_nonzero(predicted == labels))
