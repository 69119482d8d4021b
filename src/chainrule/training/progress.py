"""A progress bar for training: epochs and steps, ETA, live loss and accuracy.

Built on rich, which draws in a terminal and also in Jupyter (as a live-updating output).
Redrawing costs time, so the bar is updated about 50 times per epoch, not every step.

rich's live display in Jupyter needs the ``ipywidgets`` package; without it rich only warns
('install "ipywidgets" for Jupyter support') and shows nothing at all, so there the bar falls
back to one printed line per epoch, which a notebook shows as it comes.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from chainrule.training.callbacks import Callback

UPDATES_PER_EPOCH = 50


def jupyter_widgets() -> bool:
    """Whether rich can draw a live bar in Jupyter: it needs ``ipywidgets``."""
    return importlib.util.find_spec("ipywidgets") is not None


class ProgressBar(Callback):
    """A live bar in terminals and Jupyter; one plain line per epoch anywhere else (logs, CI)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.live = self.console.is_terminal or (self.console.is_jupyter and jupyter_widgets())
        # One run's drawing state; ``on_train_begin`` starts it afresh for every fit.
        self.epochs = 0  # the run's epoch count, for "epoch 3/10"
        self.progress: Progress | None = None  # the live display (None when not live)
        self.task: TaskID | None = None  # the current epoch's bar
        self.every = 1  # redraw every this many steps
        self.steps_in_epoch = 0

    def on_train_begin(self, trainer: Any) -> None:
        self.epochs = trainer.epochs
        if not self.live:
            return
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  acc {task.fields[accuracy]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.every = max(1, trainer.steps_per_epoch // UPDATES_PER_EPOCH)

    def on_epoch_begin(self, epoch: int, trainer: Any) -> None:
        if not self.live:
            return
        self.steps_in_epoch = trainer.epoch_progress.steps  # > 0 when resuming mid-epoch
        self.task = self.progress.add_task(
            "train",
            total=trainer.steps_per_epoch,
            completed=self.steps_in_epoch,
            epoch=f"{epoch + 1}/{self.epochs}",
            loss="…",
            accuracy="…",
        )

    def on_step_end(self, step: int, loss: float, trainer: Any) -> None:
        if not self.live:
            return
        self.steps_in_epoch += 1
        if self.steps_in_epoch % self.every == 0:
            self.progress.update(
                self.task, completed=self.steps_in_epoch, loss=f"{loss:.4f}", accuracy="…"
            )

    def on_epoch_end(self, epoch: int, logs: dict[str, float], trainer: Any) -> None:
        loss = f"{logs['train_loss']:.4f}"
        accuracy = f"{logs['train_accuracy']:.4f}"
        if logs.get("val_loss") is not None:
            loss += f"  val_loss {logs['val_loss']:.4f}"
            accuracy += f"  val_acc {logs['val_accuracy']:.4f}"
        if self.live:
            self.progress.update(
                self.task, completed=trainer.steps_per_epoch, loss=loss, accuracy=accuracy
            )
        else:
            self.console.print(
                f"epoch {epoch + 1}/{self.epochs}  loss {loss}  acc {accuracy}  "
                f"({logs['seconds']:.1f} s)",
                highlight=False,
            )

    def on_train_end(self, trainer: Any) -> None:
        if self.live:
            self.progress.stop()
