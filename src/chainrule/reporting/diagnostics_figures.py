"""Figures of training diagnostics: is each layer learning, drawn.

``chainrule.training.diagnostics`` records, per Dense layer and every few steps, the gradient
norm ‖dL/dW‖, the update ratio ‖ΔW‖/‖W‖ and activation histograms, into ``diagnostics.csv``
and ``diagnostics_histograms.json``; this module draws those files:

- ``write_figures(run_dir)``: gradient norms and update ratios per layer over the steps (log
  scale; the update ratio with its 1e-3 rule of thumb), and the activation histograms, into
  ``run_dir/figures``;
- ``plot_runs_side_by_side(runs)``: one panel per run on one shared log scale, so a vanishing
  gradient shows at a glance (a deep sigmoid network's lines fan out over orders of magnitude).

In every panel the first layer is drawn dark and the last light: depth reads off the colour.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from chainrule.reporting.figures import save_figure
from chainrule.training.diagnostics import FIELDS, load_records

#: The recorded quantities that can be drawn over the steps.
NUMERIC_FIELDS = tuple(f for f in FIELDS if f not in ("step", "epoch", "layer", "activation"))


def write_figures(directory: str | Path) -> list[Path]:
    """Gradient norms, update ratios and activation histograms into ``directory/figures``."""
    directory = Path(directory)
    records = load_records(directory / "diagnostics.csv")
    written = []
    for key, title, filename in (
        ("grad_norm", "gradient norm ‖dL/dW‖ per layer", "gradient_norms"),
        ("update_ratio", "update / weight ratio ‖ΔW‖/‖W‖ per layer (rule of thumb: 1e-3)",
         "update_ratios"),
    ):  # fmt: skip
        figure = Figure(figsize=(8, 4.5), layout="constrained")
        axes = figure.add_subplot()
        _plot_layers(axes, records, key)
        axes.set_title(title)
        if key == "update_ratio":
            axes.axhline(1e-3, color="grey", linestyle="--", linewidth=1)
        axes.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
        written += save_figure(figure, directory / "figures" / filename)
    histograms_path = directory / "diagnostics_histograms.json"
    histograms = json.loads(histograms_path.read_text()) if histograms_path.is_file() else {}
    if histograms:
        figure = Figure(figsize=(3 * len(histograms), 3), layout="constrained")
        for index, (layer, data) in enumerate(histograms.items(), start=1):
            axes = figure.add_subplot(1, len(histograms), index)
            epochs = [key for key in data if key != "activation"]
            for epoch in epochs:
                edges = np.asarray(data[epoch]["edges"])
                counts = np.asarray(data[epoch]["counts"], dtype=float)
                centres = (edges[:-1] + edges[1:]) / 2
                axes.plot(centres, counts / max(counts.sum(), 1), label=f"epoch {epoch}")
            axes.set_title(f"{layer} ({data['activation']})", fontsize=9)
            axes.tick_params(labelsize=7)
            if index == 1:
                axes.legend(fontsize=7)
        figure.suptitle("activation histograms (fraction of units per bin)")
        written += save_figure(figure, directory / "figures" / "activation_histograms")
    return written


def plot_runs_side_by_side(run_dirs: dict[str, Path], key: str = "grad_norm") -> Figure:
    """One panel per run, every layer's ``key`` over training, on one shared log scale.

    Two runs side by side (say 2 and 10 sigmoid layers) show a vanishing gradient at a
    glance: the deep run's lines fan out over orders of magnitude.
    """
    if key not in NUMERIC_FIELDS:
        raise ValueError(f"unknown diagnostic {key!r}; choose one of {', '.join(NUMERIC_FIELDS)}")
    figure = Figure(figsize=(4.2 * len(run_dirs) + 1.5, 4), layout="constrained")
    axes_list = figure.subplots(1, len(run_dirs), sharey=True, squeeze=False)[0]
    for axes, (name, directory) in zip(axes_list, run_dirs.items(), strict=True):
        _plot_layers(axes, load_records(Path(directory) / "diagnostics.csv"), key)
        axes.set_title(name, fontsize=10)
        axes.legend(fontsize=6, ncols=2)
    axes_list[0].set_ylabel(key.replace("_", " "))
    figure.suptitle(f"{key.replace('_', ' ')} per layer (first layer dark, last light)")
    return figure


def _plot_layers(axes: Axes, records: list[dict[str, Any]], key: str) -> None:
    """Each layer's positive values of ``key`` over the steps, on a log scale, first layer dark."""
    layers = list(dict.fromkeys(r["layer"] for r in records))
    colours = colormaps["viridis"](np.linspace(0, 0.9, max(len(layers), 2)))
    for layer, colour in zip(layers, colours, strict=False):
        rows = [r for r in records if r["layer"] == layer and r[key] > 0]
        axes.plot([r["step"] for r in rows], [r[key] for r in rows], label=layer, color=colour)
    axes.set_yscale("log")
    axes.set_xlabel("step")
