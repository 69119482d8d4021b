"""History: what a training run logged, epoch by epoch and step by step.

Each epoch appends one value per key of ``EPOCH_KEYS`` (None where a quantity was not
measured, such as ``val_loss`` without a validation split), so every list has one entry per
epoch; ``step_loss`` holds the training loss of every optimizer step. The run directory keeps
both as ``history.csv`` and ``steps.csv``.

For code written against Keras, ``history.history`` and ``history.epoch`` read the same
numbers under Keras's names (``KERAS_NAMES``): ``history.history["loss"]`` is
``history["train_loss"]``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from chainrule.utils.atomic import atomic_write_text
from chainrule.utils.markup import fragment, html_table, line_chart_svg, svg_image

EPOCH_KEYS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "seconds",
)

#: Our epoch key -> the key Keras's ``History.history`` uses for the same quantity. ``epoch``
#: has its own attribute in Keras, and ``seconds`` has no Keras counterpart.
KERAS_NAMES = {
    "train_loss": "loss",
    "train_accuracy": "accuracy",
    "val_loss": "val_loss",
    "val_accuracy": "val_accuracy",
    "learning_rate": "learning_rate",
}


@dataclass(repr=False)
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

    @property
    def history(self) -> dict[str, list[float | None]]:
        """The per-epoch lists under Keras's names, as Keras's ``History.history`` holds them.

        ==================  ==================
        Keras key           chainrule key
        ==================  ==================
        ``loss``            ``train_loss``
        ``accuracy``        ``train_accuracy``
        ``val_loss``        ``val_loss``
        ``val_accuracy``    ``val_accuracy``
        ``learning_rate``   ``learning_rate``
        ==================  ==================

        Only quantities that were measured appear (no ``val_*`` keys without validation data),
        as in Keras. A fresh copy on every read: changing it changes nothing here.
        """
        return {
            keras: list(self.epochs[key])
            for key, keras in KERAS_NAMES.items()
            if any(value is not None for value in self.epochs[key])
        }

    @property
    def epoch(self) -> list[int]:
        """The epochs trained, counted from 0 as Keras's ``History.epoch`` counts them
        (``history["epoch"]`` counts from 1, as the progress bar and ``history.csv`` do)."""
        return [int(epoch) - 1 for epoch in self.epochs["epoch"]]

    def __repr__(self) -> str:
        epochs = len(self)
        if not epochs:
            return "History(no epochs)"
        last = self.last()
        shown = ", ".join(
            f"{key} {last[key]:.4g}"
            for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
            if last.get(key) is not None
        )
        return f"History({epochs} epoch{'s' * (epochs != 1)}, last: {shown})"

    def _repr_html_(self) -> str:
        """The curves (loss, and accuracy where measured) and the table, for Jupyter."""
        if not len(self):
            return fragment("<p>History: no epochs yet.</p>")
        epochs = self.epochs["epoch"]
        charts = []
        for quantity in ("loss", "accuracy"):
            series = {
                split: self.epochs[f"{key}_{quantity}"]
                for key, split in (("train", "training"), ("val", "validation"))
            }
            if any(value is not None for values in series.values() for value in values):
                svg = line_chart_svg(epochs, series, quantity)
                charts.append(svg_image(svg, f"{quantity} per epoch"))
        keys = [key for key in EPOCH_KEYS if any(v is not None for v in self.epochs[key])]
        rows = [
            ["" if value is None else f"{value:.6g}" for value in row]
            for row in zip(*(self.epochs[key] for key in keys), strict=True)
        ]
        table = html_table(keys, rows, align="r" * len(keys))
        return fragment("<p>" + " ".join(charts) + "</p>\n" + table)

    def last(self) -> dict[str, float | None]:
        return {key: values[-1] for key, values in self.epochs.items()} if len(self) else {}

    def to_dict(self) -> dict[str, list[float | None]]:
        """The per-epoch lists, as ``chainrule.reporting.figures.plot_history`` takes them."""
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
