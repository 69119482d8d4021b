"""Learning-rate schedules: small callbacks that set ``optimizer.learning_rate`` each epoch.

Epochs count from 0 and η₀ is the optimizer's learning rate when training starts:

==================  ============================================  ==========================
schedule            learning rate at epoch e                      arguments
==================  ============================================  ==========================
step                η₀ · γ^⌊e / step_size⌋                        step_size, gamma
exponential         η₀ · γ^e                                      gamma
cosine              η_min + ½ (η₀ - η_min)(1 + cos(π e / E))      epochs E, min_learning_rate
reduce_on_plateau   η ← max(η · factor, η_min) when ``monitor``   monitor, factor, patience,
                    has not improved by min_delta for patience    min_delta, min_learning_rate,
                    epochs (then wait ``cooldown`` epochs)        cooldown
==================  ============================================  ==========================
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.training.callbacks import Callback, Monitor
from chainrule.utils.registry import Registry
from chainrule.utils.validation import check_integer, check_number


class Schedule(Callback):
    """A schedule computes the rate for an epoch from η₀; subclasses give ``rate``."""

    type_name = "schedule"

    def on_train_begin(self, trainer: Any) -> None:
        self.base_learning_rate = trainer.optimizer.learning_rate

    def on_epoch_begin(self, epoch: int, trainer: Any) -> None:
        trainer.optimizer.learning_rate = self.rate(epoch, self.base_learning_rate)

    def rate(self, epoch: int, base: float) -> float:
        raise NotImplementedError

    def state_dict(self) -> tuple[dict, dict[str, Any]]:
        return {}, {"base_learning_rate": self.base_learning_rate}

    def load_state_dict(self, arrays: dict, scalars: dict[str, Any]) -> None:
        self.base_learning_rate = float(scalars["base_learning_rate"])


class StepDecay(Schedule):
    type_name = "step"

    def __init__(self, step_size: int = 10, gamma: float = 0.1) -> None:
        self.step_size = check_integer(step_size, "step_size", where="step")
        self.gamma = check_number(gamma, "gamma", minimum=0, strict=True, where="step")

    def rate(self, epoch: int, base: float) -> float:
        return base * self.gamma ** (epoch // self.step_size)


class ExponentialDecay(Schedule):
    type_name = "exponential"

    def __init__(self, gamma: float = 0.95) -> None:
        self.gamma = check_number(gamma, "gamma", minimum=0, strict=True, where="exponential")

    def rate(self, epoch: int, base: float) -> float:
        return base * self.gamma**epoch


class CosineDecay(Schedule):
    type_name = "cosine"

    def __init__(self, epochs: int | None = None, min_learning_rate: float = 0.0) -> None:
        self.epochs = None if epochs is None else check_integer(epochs, "epochs", where="cosine")
        self.min_learning_rate = float(min_learning_rate)

    def on_train_begin(self, trainer: Any) -> None:
        super().on_train_begin(trainer)
        # Without a fixed length, decay over this training run's epochs (each run anew).
        self.total_epochs = self.epochs if self.epochs is not None else trainer.epochs

    def rate(self, epoch: int, base: float) -> float:
        progress = min(epoch / self.total_epochs, 1.0)
        return self.min_learning_rate + 0.5 * (base - self.min_learning_rate) * (
            1 + math.cos(math.pi * progress)
        )


class ReduceOnPlateau(Callback):
    """Multiply the rate by ``factor`` when ``monitor`` stops improving (Keras' semantics).

    ``mode``: ``"min"`` or ``"max"``; by default max for accuracies, min otherwise.
    """

    type_name = "reduce_on_plateau"

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 3,
        min_delta: float = 1e-4,
        min_learning_rate: float = 0.0,
        cooldown: int = 0,
        mode: str | None = None,
    ) -> None:
        self.factor = check_number(
            factor,
            "factor",
            minimum=0,
            maximum=1,
            strict=True,
            strict_maximum=True,
            where="reduce_on_plateau",
        )
        self.monitor = Monitor(monitor, min_delta, "reduce_on_plateau", mode)
        self.patience = check_integer(patience, "patience", minimum=0, where="reduce_on_plateau")
        self.min_learning_rate = float(min_learning_rate)
        self.cooldown = check_integer(cooldown, "cooldown", minimum=0, where="reduce_on_plateau")

    def on_train_begin(self, trainer: Any) -> None:
        self.monitor.reset()
        self.wait = 0
        self.cooldown_left = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float], trainer: Any) -> None:
        if self.monitor.improved(logs):
            self.wait = 0
            return
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            return
        self.wait += 1
        if self.wait > self.patience - 1:
            optimizer = trainer.optimizer
            optimizer.learning_rate = max(
                optimizer.learning_rate * self.factor, self.min_learning_rate
            )
            self.wait = 0
            self.cooldown_left = self.cooldown

    def state_dict(self) -> tuple[dict, dict[str, Any]]:
        return {}, {
            "best": self.monitor.best,
            "wait": self.wait,
            "cooldown_left": self.cooldown_left,
        }

    def load_state_dict(self, arrays: dict, scalars: dict[str, Any]) -> None:
        self.monitor.best = float(scalars["best"])
        self.wait = int(scalars["wait"])
        self.cooldown_left = int(scalars["cooldown_left"])


SCHEDULES: Registry[type[Callback]] = Registry("schedule")
SCHEDULES.register("step", StepDecay, aliases=("step_decay",))
SCHEDULES.register("exponential", ExponentialDecay, aliases=("exp",))
SCHEDULES.register("cosine", CosineDecay)
SCHEDULES.register("reduce_on_plateau", ReduceOnPlateau, aliases=("plateau",))


def get_schedule(spec: str | dict[str, Any] | Callback) -> Callback:
    if isinstance(spec, Callback):
        return spec
    return SCHEDULES.create(spec)
