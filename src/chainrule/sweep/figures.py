"""Figures of a sweep: curves grouped by a factor, small multiples, each factor's effect.

Like :mod:`chainrule.reporting.figures`, every function builds a :class:`matplotlib.figure.Figure` directly
(no pyplot) and returns it; :func:`chainrule.reporting.figures.save_figure` writes it as PNG and SVG.
Histories are the dicts :meth:`chainrule.training.history.History.to_dict` gives (None for a missing
value); a run without epochs (failed) is drawn as an empty panel or left out of the legend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

__all__ = ["plot_curves_by_factor", "plot_factor_effects", "plot_small_multiples"]

HistoryLike = Mapping[str, Sequence[float | None]]


def _level_colors(count: int) -> list[tuple[float, ...]]:
    from matplotlib import colormaps

    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    return [colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, count)]


def _xy(history: HistoryLike, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs and the finite values of ``history[key]`` (empty arrays if none)."""
    values = np.array([np.nan if v is None else v for v in history.get(key, [])], dtype=np.float64)
    epochs = np.array(
        [np.nan if v is None else v for v in history.get("epoch", [])], dtype=np.float64
    )
    if epochs.shape != values.shape:
        epochs = np.arange(1, len(values) + 1, dtype=np.float64)
    keep = np.isfinite(values) & np.isfinite(epochs)
    return epochs[keep], values[keep]


def plot_curves_by_factor(
    histories: Mapping[str, HistoryLike],
    levels: Mapping[str, str],
    level_order: Sequence[str],
    factor: str,
    metric: str = "val_accuracy",
) -> Figure:
    """Every run's ``metric`` per epoch on one axes, coloured by its level of ``factor``.

    ``levels`` maps run name -> that run's level; the legend has one entry per level, so 27
    runs read as three families of curves. Axes: 1.
    """
    if not histories:
        raise ValueError("histories is empty: no runs to draw")
    colors = dict(zip(level_order, _level_colors(len(level_order)), strict=True))
    fig = Figure(figsize=(8.0, 4.5), layout="constrained")
    ax = fig.subplots()
    drawn = False
    for name, history in histories.items():
        x, y = _xy(history, metric)
        if x.size:
            ax.plot(x, y, color=colors[levels[name]], linewidth=1.3, alpha=0.8)
            drawn = True
    if not drawn:
        ax.text(0.5, 0.5, f"no run recorded {metric}", ha="center", transform=ax.transAxes)
    handles = [Line2D([], [], color=colors[level], linewidth=2) for level in level_order]
    ax.legend(
        handles,
        list(level_order),
        title=factor,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
        frameon=False,
    )
    label = metric.replace("_", " ")
    ax.set(xlabel="epoch", ylabel=label, title=f"{label} by {factor} ({len(histories)} runs)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    return fig


def plot_small_multiples(
    histories: Mapping[str, HistoryLike],
    titles: Mapping[str, str],
    metrics: Sequence[str] = ("train_accuracy", "val_accuracy"),
    ncols: int | None = None,
) -> Figure:
    """One small panel per run (in the order given), the same axes limits in every panel.

    Each panel draws ``metrics`` (training vs validation) per epoch under the run's title;
    ``ncols`` sets the sheet's columns (27 runs of a 3-factor grid: 9 columns, 3 rows).
    Axes: one per run.
    """
    count = len(histories)
    if count == 0:
        raise ValueError("histories is empty: no runs to draw")
    ncols = min(ncols or math.ceil(math.sqrt(count)), count)
    nrows = math.ceil(count / ncols)
    fig = Figure(figsize=(2.3 * ncols + 0.6, 1.9 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
    for ax in axes[count:]:
        ax.remove()
    styles = [("tab:blue", "-"), ("tab:orange", "-"), ("tab:green", "--"), ("tab:red", "--")]
    for ax, (name, history) in zip(axes, histories.items(), strict=False):
        empty = True
        for metric, (color, style) in zip(metrics, styles, strict=False):
            x, y = _xy(history, metric)
            if x.size:
                ax.plot(x, y, color=color, linestyle=style, linewidth=1.2)
                empty = False
        if empty:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(titles.get(name, name), fontsize="x-small")
        ax.tick_params(labelsize="x-small")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    handles = [
        Line2D([], [], color=color, linestyle=style)
        for _, (color, style) in zip(metrics, styles, strict=False)
    ]
    fig.legend(
        handles,
        [metric.replace("_", " ") for metric in metrics],
        loc="outside lower center",
        ncols=len(metrics),
        fontsize="small",
        frameon=False,
    )
    for ax in axes[max(0, count - ncols) : count]:
        ax.set_xlabel("epoch", fontsize="x-small")
    return fig


def plot_factor_effects(
    values: Mapping[str, Mapping[str, Sequence[float]]],
    metric: str,
) -> Figure:
    """Final ``metric`` per level of each factor: one panel per factor.

    ``values[factor][level]`` lists the final metric of every run at that level. A level with
    several runs gets a box (median, quartiles) with the runs as dots on top; when every level
    has a single run (a one-factor grid) the panel is a bar chart. Axes: one per factor.
    """
    if not values:
        raise ValueError("values is empty: no factors to draw")
    count = len(values)
    ncols = min(count, 3)
    nrows = math.ceil(count / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    for ax in axes[count:]:
        ax.remove()
    label = metric.replace("_", " ")
    rng = np.random.default_rng(0)  # jitter of the dots only
    for ax, (factor, levels) in zip(axes, values.items(), strict=False):
        names = list(levels)
        colors = _level_colors(len(names))
        samples = [np.asarray(levels[name], dtype=np.float64) for name in names]
        positions = np.arange(1, len(names) + 1)
        if all(len(sample) <= 1 for sample in samples):
            heights = [sample[0] if len(sample) else np.nan for sample in samples]
            ax.bar(positions, heights, color=colors, width=0.6)
            for position, height in zip(positions, heights, strict=True):
                if np.isfinite(height):
                    ax.annotate(
                        f"{height:.4g}",
                        (position, height),
                        ha="center",
                        va="bottom",
                        fontsize="x-small",
                    )
        else:
            present = [i for i, sample in enumerate(samples) if len(sample)]
            boxes = ax.boxplot(
                [samples[i] for i in present],
                positions=positions[present],
                widths=0.5,
                patch_artist=True,
                showfliers=False,
                medianprops={"color": "black"},
            )
            for patch, index in zip(boxes["boxes"], present, strict=True):
                patch.set(facecolor=colors[index], alpha=0.35)
            for position, sample, color in zip(positions, samples, colors, strict=True):
                jitter = rng.uniform(-0.12, 0.12, size=len(sample))
                ax.scatter(position + jitter, sample, color=color, s=14, zorder=3)
        ax.set_xticks(positions, names, rotation=30 if max(map(len, names)) > 8 else 0)
        ax.set_title(factor, fontsize="small")
        ax.grid(True, axis="y", alpha=0.3)
    for ax in axes[:count:ncols]:
        ax.set_ylabel(f"final {label}")
    fig.suptitle(f"final {label} per level of each factor")
    return fig
