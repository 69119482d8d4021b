"""Callbacks: pieces the training loop calls at fixed points, each owning its own state.

``Trainer.fit`` calls ``on_train_begin``, then per epoch ``on_epoch_begin`` and
``on_epoch_end`` (with that epoch's logs: ``train_loss``, ``val_accuracy`` …), per step
``on_step_end``, and finally ``on_train_end``. A callback stops training by setting
``trainer.stop_training = True``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.utils.validation import check_integer, check_number


class Callback:
    type_name = "callback"

    def on_train_begin(self, trainer: Any) -> None:
        pass

    def on_epoch_begin(self, epoch: int, trainer: Any) -> None:
        pass

    def on_step_end(self, step: int, loss: float, trainer: Any) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float], trainer: Any) -> None:
        pass

    def on_train_end(self, trainer: Any) -> None:
        pass

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(arrays, JSON-ready scalars) a checkpoint keeps to resume this callback exactly."""
        return {}, {}

    def load_state_dict(self, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        """Restore ``state_dict``'s output; called after ``on_train_begin`` on resume."""


#: Which way is better: "min" (lower: losses) or "max" (higher: accuracies).
MODES = ("min", "max")


def default_mode(name: str) -> str:
    """The mode a monitor of ``name`` gets when none is given: ``"max"`` for an accuracy (a
    name containing "acc", as ``val_accuracy``), ``"min"`` for everything else (losses)."""
    return "max" if "acc" in name else "min"


class BestValue:
    """The best value seen so far of one quantity, and whether a new value beats it.

    With ``mode="min"`` a value v beats the best b when v < b - min_delta; with ``"max"``
    when v > b + min_delta. Before any value, b is +inf (min) or -inf (max), so the first
    finite value always beats it. A NaN (a diverged loss) never does.
    """

    def __init__(self, mode: str = "min", min_delta: float = 0.0, owner: str = "best") -> None:
        if mode not in MODES:
            raise ValueError(f"{owner}: mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.min_delta = check_number(min_delta, "min_delta", minimum=0, where=owner)
        self.reset()

    def reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf

    def update(self, value: float) -> bool:
        """Whether ``value`` beats the best by more than ``min_delta`` (then it is the best)."""
        if math.isnan(value):
            return False
        if self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best = value
        return better


class Monitor(BestValue):
    """The best value of one logged quantity (``val_loss``, ``train_accuracy`` …).

    ``mode`` is ``"min"`` or ``"max"``; None takes ``default_mode(name)`` (max for
    accuracies, min otherwise).
    """

    def __init__(self, name: str, min_delta: float, owner: str, mode: str | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{owner}: monitor must name a logged quantity, got {name!r}")
        super().__init__(default_mode(name) if mode is None else mode, min_delta, owner)
        self.name = name
        self.owner = owner

    def value(self, logs: dict[str, float]) -> float:
        value = logs.get(self.name)
        if value is None:
            available = ", ".join(k for k, v in logs.items() if v is not None)
            hint = " (it needs a validation split)" if self.name.startswith("val_") else ""
            raise ValueError(
                f"{self.owner}: cannot monitor {self.name!r}{hint}; logged: {available}"
            )
        return float(value)

    def improved(self, logs: dict[str, float]) -> bool:
        """Whether this epoch beat the best by more than ``min_delta`` (and record it).

        A NaN (a diverged loss) is never an improvement, so patience still runs out.
        """
        return self.update(self.value(logs))


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``mode``: ``"min"`` (lower is better) or ``"max"``; by default max for accuracies and min
    otherwise (``default_mode``).

    With ``restore_best_weights`` (the default) the model ends with the parameters of its best
    epoch, not its last; the copy is one flat buffer, so keeping it is one memcpy per
    improvement.
    """

    type_name = "early_stopping"

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
        mode: str | None = None,
    ) -> None:
        self.patience = check_integer(patience, "patience", where="early_stopping")
        self.monitor = Monitor(monitor, min_delta, "early_stopping", mode)
        self.restore_best_weights = bool(restore_best_weights)
        # One run's state; ``on_train_begin`` starts it afresh for every fit.
        self.wait = 0  # epochs since the last improvement
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._best_params: np.ndarray | None = None  # the best epoch's parameters

    def on_train_begin(self, trainer: Any) -> None:
        self.monitor.reset()
        self.wait = 0
        self.best_epoch = None
        self.stopped_epoch = None
        self._best_params = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float], trainer: Any) -> None:
        if self.monitor.improved(logs):
            self.wait = 0
            self.best_epoch = epoch
            if self.restore_best_weights:
                if self._best_params is None:
                    self._best_params = np.empty_like(trainer.model.params.data)
                self._best_params[...] = trainer.model.params.data
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer: Any) -> None:
        if self.restore_best_weights and self._best_params is not None:
            trainer.model.params.data[...] = self._best_params

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {} if self._best_params is None else {"best_params": self._best_params.copy()}
        scalars = {
            "best": self.monitor.best,
            "wait": self.wait,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
        }
        return arrays, scalars

    def load_state_dict(self, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
        self.monitor.best = float(scalars["best"])
        self.wait = int(scalars["wait"])
        self.best_epoch = scalars["best_epoch"]
        self.stopped_epoch = scalars["stopped_epoch"]
        if "best_params" in arrays:
            self._best_params = np.array(arrays["best_params"])


CALLBACKS = {"early_stopping": EarlyStopping}
