"""Training diagnostics: is each layer learning, and if not, why?

Opt-in (``training.diagnostics: true`` in a recipe, ``--diagnostics`` on the command line, or
``Trainer(callbacks=[Diagnostics()])``). Every ``every`` steps it records, per Dense layer:

====================  ======================================================================
grad_norm             ‖dL/dW‖₂, the size of the weight gradient
update_ratio          ‖ΔW‖ / ‖W‖ of that step: the classic rule of thumb wants about 1e-3
act_mean, act_std     mean and spread of the layer's activations on the batch
saturated             fraction of sigmoid/tanh outputs within 1e-2 of their limits (f' ≈ 0)
dead                  fraction of ReLU units that output 0 for every example of the batch
====================  ======================================================================

into ``diagnostics.csv``, and activation histograms at a few epochs. ``read_diagnostics``
turns the records into findings in plain words (vanishing or exploding gradients, saturated
units, dying ReLUs, a learning rate too high or too low), which ``chainrule diagnose RUN_DIR``
prints and the run report shows beside the figures (drawn by
``chainrule.reporting.diagnostics_figures``).

When a step is split across threads (``chainrule.training.parallel``: big CNN steps), gradients and
updates are the whole batch's, and activation statistics come from the model's own part of
the batch (the first one).

Cost: nothing when off (the trainer has no such callback); when on, one copy of the
parameter buffer and a few reductions per ``every`` steps.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.nn.layers import Dense, ImprovedSigmoid, ReLU, Sigmoid, Tanh
from chainrule.training.callbacks import Callback
from chainrule.utils.atomic import atomic_write_text
from chainrule.utils.validation import check_integer

FIELDS = ("step", "epoch", "layer", "activation", "grad_norm", "weight_norm", "update_ratio",
          "act_mean", "act_std", "saturated", "dead")  # fmt: skip
SATURATION_MARGIN = 1e-2
HISTOGRAM_BINS = 40


@dataclass(frozen=True)
class Finding:
    """One observation about the run, in plain words, with how serious it is."""

    level: str  # "problem", "warning" or "ok"
    text: str


class Diagnostics(Callback):
    """Records per-layer gradient, update and activation statistics while training."""

    type_name = "diagnostics"

    def __init__(self, every: int = 50) -> None:
        self.every = check_integer(every, "every", where="diagnostics")
        self.records: list[dict[str, Any]] = []
        self.histograms: dict[str, dict[str, Any]] = {}

    def on_train_begin(self, trainer: Any) -> None:
        layers = trainer.model.layers
        self.pairs = []  # (dense layer, the activation layer right after it, or None)
        for index, layer in enumerate(layers):
            if isinstance(layer, Dense):
                after = layers[index + 1] if index + 1 < len(layers) else None
                self.pairs.append((layer, after if _has_output_cache(after) else None))
        self._before: np.ndarray | None = None
        self._histogram_epochs = {1, 2, 4, 8, 16, 32, 64, trainer.epochs}

    def on_step_end(self, step: int, loss: float, trainer: Any) -> None:
        if self.every == 1 or step % self.every == self.every - 1:
            self._before = trainer.model.params.data.copy()  # to measure the next update
        if step % self.every == 0 and self._before is not None:
            self._record(step, trainer)
            self._before = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float], trainer: Any) -> None:
        if epoch + 1 in self._histogram_epochs:
            for dense, activation in self.pairs:
                if activation is not None:
                    a = np.asarray(activation._cache, dtype=np.float64).ravel()
                    counts, edges = np.histogram(a, bins=HISTOGRAM_BINS)
                    self.histograms.setdefault(dense.name, {"activation": activation.type_name})[
                        str(epoch + 1)
                    ] = {"counts": counts.tolist(), "edges": edges.tolist()}

    def _record(self, step: int, trainer: Any) -> None:
        model = trainer.model
        before = self._before
        for dense, activation in self.pairs:
            name = f"{dense.name}.W"
            weights = model.params[name]
            previous = model.params.view(name, before)
            weight_norm = float(np.linalg.norm(weights))
            update = float(np.linalg.norm(weights - previous))
            record = {
                "step": step,
                "epoch": trainer.epoch + 1,
                "layer": dense.name,
                "activation": activation.type_name if activation is not None else "",
                "grad_norm": float(np.linalg.norm(model.grads[name])),
                "weight_norm": weight_norm,
                "update_ratio": update / weight_norm if weight_norm > 0 else math.nan,
                "act_mean": math.nan,
                "act_std": math.nan,
                "saturated": math.nan,
                "dead": math.nan,
            }
            if activation is not None:
                record.update(_activation_stats(activation))
            self.records.append(record)

    def state_dict(self) -> tuple[dict, dict[str, Any]]:
        return {}, {"records": self.records, "histograms": self.histograms}

    def load_state_dict(self, arrays: dict, scalars: dict[str, Any]) -> None:
        self.records = list(scalars["records"])
        self.histograms = dict(scalars["histograms"])

    def write(self, directory: str | Path) -> None:
        """diagnostics.csv and diagnostics_histograms.json in ``directory``."""
        directory = Path(directory)
        lines = [",".join(FIELDS)]
        for record in self.records:
            lines.append(",".join(_csv_value(record[field]) for field in FIELDS))
        atomic_write_text(directory / "diagnostics.csv", "\n".join(lines) + "\n")
        atomic_write_text(
            directory / "diagnostics_histograms.json", json.dumps(self.histograms) + "\n"
        )


def _has_output_cache(layer: Any) -> bool:
    return isinstance(layer, ReLU | Sigmoid | Tanh | ImprovedSigmoid)


def _activation_stats(layer: Any) -> dict[str, float]:
    a = layer._cache
    stats = {"act_mean": float(np.mean(a)), "act_std": float(np.std(a))}
    if isinstance(layer, Sigmoid):
        saturated = (a < SATURATION_MARGIN) | (a > 1 - SATURATION_MARGIN)
        stats["saturated"] = float(np.mean(saturated))
    elif isinstance(layer, Tanh | ImprovedSigmoid):
        limit = 1.0 if isinstance(layer, Tanh) else ImprovedSigmoid.A
        stats["saturated"] = float(np.mean(np.abs(a) > limit - SATURATION_MARGIN))
    elif isinstance(layer, ReLU):
        stats["dead"] = float(np.mean(np.all(a == 0, axis=0)))
    return stats


def _csv_value(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


# -- reading ---------------------------------------------------------------------------------
def load_records(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: train with diagnostics on (recipe training.diagnostics: true, "
            "or chainrule train --diagnostics)"
        )
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in FIELDS:
            if key in ("layer", "activation"):
                continue
            row[key] = float(row[key]) if row[key] != "" else math.nan
    return rows


def layer_summary(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per layer, in order: medians over the last quarter of the records (the settled state)."""
    layers = list(dict.fromkeys(record["layer"] for record in records))
    summary = []
    for layer in layers:
        rows = [r for r in records if r["layer"] == layer]
        late = rows[len(rows) * 3 // 4 :] or rows
        entry = {"layer": layer, "activation": rows[0]["activation"], "records": len(rows)}
        for key in ("grad_norm", "update_ratio", "act_mean", "act_std", "saturated", "dead"):
            values = [r[key] for r in late if not math.isnan(r[key])]
            entry[key] = float(np.median(values)) if values else math.nan
        summary.append(entry)
    return summary


def read_diagnostics(records: list[dict[str, Any]]) -> list[Finding]:
    """What the numbers say, in plain words: the reading ``chainrule diagnose`` prints."""
    if not records:
        return [
            Finding("warning", "no diagnostics were recorded (a run shorter than `every` steps?)")
        ]
    summary = layer_summary(records)
    findings = []
    first, last = summary[0], summary[-1]
    if len(summary) > 1 and first["grad_norm"] > 0 and last["grad_norm"] > 0:
        ratio = first["grad_norm"] / last["grad_norm"]
        if ratio < 1e-2:
            findings.append(Finding("problem", (
                f"the first layer's gradient is {ratio:.0e} of the last layer's: vanishing "
                "gradients. Each sigmoid multiplies the backpropagated delta by at most 1/4; "
                "ReLU activations, LeCun or He initialization, or fewer layers help."
            )))  # fmt: skip
        elif ratio > 1e2:
            findings.append(Finding("problem", (
                f"the first layer's gradient is {ratio:.0e} times the last layer's: exploding "
                "gradients. Smaller initial weights, a lower learning rate or gradient "
                "clipping (clip_norm) help."
            )))  # fmt: skip
    for entry in summary:
        if entry["saturated"] > 0.5:
            findings.append(Finding("problem", (
                f"{entry['saturated']:.0%} of {entry['layer']}'s {entry['activation']} units are "
                "saturated (output within 1e-2 of a limit, derivative near 0): they barely learn. "
                "Standardized inputs, LeCun initialization or ReLU help."
            )))  # fmt: skip
        if entry["dead"] > 0.5:
            findings.append(Finding("problem", (
                f"{entry['dead']:.0%} of {entry['layer']}'s ReLUs are dead (0 for every example): "
                "they get no gradient again. A lower learning rate, He initialization or "
                "leaky ReLU help."
            )))  # fmt: skip
        ratio = entry["update_ratio"]
        if ratio > 1e-1:
            findings.append(Finding("warning", (
                f"{entry['layer']}: updates are {ratio:.0e} of the weights per step (rule of "
                "thumb: about 1e-3): the learning rate may be too high."
            )))  # fmt: skip
        elif 0 < ratio < 1e-5:
            findings.append(Finding("warning", (
                f"{entry['layer']}: updates are only {ratio:.0e} of the weights per step (rule of "
                "thumb: about 1e-3): this layer barely moves; the learning rate may be too low "
                "or its gradient is vanishing."
            )))  # fmt: skip
    if not findings:
        findings.append(Finding("ok", (
            "no problem found: gradients of similar size in every layer, update/weight ratios "
            "near the 1e-3 rule of thumb, no saturated or dead units."
        )))  # fmt: skip
    return findings


def format_reading(records: list[dict[str, Any]]) -> str:
    """The per-layer table and the findings, as plain text for the terminal."""
    summary = layer_summary(records)
    lines = [
        f"{'layer':<10} {'activation':<17} {'grad norm':>10} {'update/W':>9} "
        f"{'act mean':>9} {'act std':>8} {'saturated':>9} {'dead':>6}"
    ]
    for entry in summary:
        lines.append(
            f"{entry['layer']:<10} {entry['activation'] or '-':<17} {_fmt(entry['grad_norm'], 'e')} "
            f"{_fmt(entry['update_ratio'], 'e', 9)} {_fmt(entry['act_mean'], 'f', 9)} "
            f"{_fmt(entry['act_std'], 'f', 8)} {_fmt(entry['saturated'], '%', 9)} "
            f"{_fmt(entry['dead'], '%', 6)}"
        )
    lines.append("")
    for finding in read_diagnostics(records):
        lines.append(f"[{finding.level}] {finding.text}")
    return "\n".join(lines)


def _fmt(value: float, kind: str, width: int = 10) -> str:
    if math.isnan(value):
        return f"{'-':>{width}}"
    text = {"e": f"{value:.2e}", "f": f"{value:.3f}", "%": f"{value:.0%}"}[kind]
    return f"{text:>{width}}"
