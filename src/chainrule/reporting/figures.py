"""Matplotlib figures for runs and sweeps: curves, confusion matrices, weights, samples.

Every function builds a :class:`matplotlib.figure.Figure` directly, never through
``pyplot``: no global figure registry to leak memory across a 27-run sweep, no GUI backend to
need a display, and nothing that changes when another module imports pyplot. Such a figure
renders with the Agg (PNG) and SVG canvases when saved. Each function returns the Figure;
:func:`save_figure` writes it as PNG and SVG atomically (temp file + ``os.replace``), so a run
directory never holds a half-written image even if the process dies mid-save.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from chainrule.reporting.metrics import _as_labels
from chainrule.utils.atomic import atomic_write
from chainrule.utils.validation import check_integer

__all__ = [
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_histories",
    "plot_history",
    "plot_image_grid",
    "plot_misclassified",
    "plot_weight_images",
    "save_figure",
]

HistoryLike = Mapping[str, Sequence[float | None]]

_SAVE_FORMATS = ("png", "svg", "pdf")


# --------------------------------------------------------------------------- saving


def save_figure(
    fig: Figure,
    path_without_suffix: str | os.PathLike[str],
    formats: Sequence[str] = ("png", "svg"),
    *,
    dpi: int = 150,
) -> list[Path]:
    """Write ``fig`` once per format as ``<path>.<format>`` and return the written paths.

    Each file is written with :func:`chainrule.utils.atomic.atomic_write` (a temporary file in
    the same directory, then ``os.replace``), so readers - a report being built, a sweep that
    resumes - see either the old file or the complete new one; a full disk raises one
    ``WriteError`` naming the file, and the old file stays. Parent directories are created.
    The suffix is appended, never substituted, so ``runs/lr0.01/curves`` works.
    """
    formats = tuple(formats)
    if not formats:
        raise ValueError("formats must name at least one format, e.g. ('png', 'svg')")
    for fmt in formats:
        if fmt not in _SAVE_FORMATS:
            raise ValueError(f"formats may contain {', '.join(_SAVE_FORMATS)}; got {fmt!r}")
    base = Path(path_without_suffix)
    if base.suffix.lstrip(".").lower() in _SAVE_FORMATS:
        raise ValueError(
            f"path_without_suffix should not end in a format suffix, got {str(base)!r}; "
            f"pass {str(base.with_suffix(''))!r} and choose formats with formats=..."
        )
    written = []
    for fmt in formats:
        target = base.with_name(f"{base.name}.{fmt}")
        atomic_write(
            target,
            lambda temporary, fmt=fmt: fig.savefig(
                temporary, format=fmt, dpi=dpi, bbox_inches="tight"
            ),
        )
        written.append(target)
    return written


# --------------------------------------------------------------------------- training curves


def _series(history: HistoryLike, key: str, length: int) -> np.ndarray | None:
    """``history[key]`` as float64 with None -> NaN, or None when the key is absent/empty."""
    values = history.get(key)
    if values is None:
        return None
    array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if array.shape != (length,):
        raise ValueError(
            f"history[{key!r}] has {array.shape[0] if array.ndim == 1 else array.shape} "
            f"entries, expected {length} (one per epoch, like history['epoch'])"
        )
    if not np.isfinite(array).any():
        return None
    return array


def _epochs(history: HistoryLike, name: str = "history") -> np.ndarray:
    if not isinstance(history, Mapping):
        raise ValueError(
            f"{name} must be a mapping of metric name -> list of per-epoch values, "
            f"got {type(history).__name__}"
        )
    if "train_loss" not in history:
        raise ValueError(f"{name} needs a 'train_loss' list; it has keys {sorted(history)}")
    length = len(history["train_loss"])
    if length == 0:
        raise ValueError(f"{name}['train_loss'] is empty: nothing to plot")
    epochs = _series(history, "epoch", length)
    return np.arange(1, length + 1, dtype=np.float64) if epochs is None else epochs


def _plot_series(ax: Axes, x: np.ndarray, y: np.ndarray | None, **style: object) -> bool:
    """Plot the finite points of ``y`` against ``x``; return whether anything was drawn."""
    if y is None:
        return False
    keep = np.isfinite(y) & np.isfinite(x)
    if not keep.any():
        return False
    style.setdefault("marker", "o" if keep.sum() <= 30 else None)
    ax.plot(x[keep], y[keep], markersize=3, **style)
    return True


def plot_history(history: HistoryLike, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, training vs validation, side by side.

    ``history`` maps keys to equal-length per-epoch lists: ``train_loss`` (required),
    ``epoch`` (default 1, 2, ...), ``train_accuracy``, ``val_loss``, ``val_accuracy``,
    ``learning_rate``. None and NaN entries are skipped (a metric recorded only every few
    epochs still draws as a line). The best validation accuracy is marked, since that epoch is
    the one early stopping keeps. A third panel shows the learning rate when it was recorded
    and changed (a schedule); a constant rate is noted in the title instead of a flat line.

    Axes: 2, or 3 with the learning-rate panel.
    """
    epochs = _epochs(history)
    length = epochs.shape[0]
    train_loss = _series(history, "train_loss", length)
    val_loss = _series(history, "val_loss", length)
    train_accuracy = _series(history, "train_accuracy", length)
    val_accuracy = _series(history, "val_accuracy", length)
    learning_rate = _series(history, "learning_rate", length)

    finite_rates = learning_rate[np.isfinite(learning_rate)] if learning_rate is not None else None
    rate_varies = finite_rates is not None and np.ptp(finite_rates) > 0
    num_panels = 3 if rate_varies else 2
    fig = Figure(figsize=(5.0 * num_panels, 4.0), layout="constrained")
    axes = fig.subplots(1, num_panels, squeeze=False)[0]

    loss_ax, accuracy_ax = axes[0], axes[1]
    _plot_series(loss_ax, epochs, train_loss, label="train", color="C0")
    _plot_series(loss_ax, epochs, val_loss, label="validation", color="C1")
    loss_ax.set(title="loss", xlabel="epoch", ylabel="loss")

    drew_train = _plot_series(accuracy_ax, epochs, train_accuracy, label="train", color="C0")
    drew_val = _plot_series(accuracy_ax, epochs, val_accuracy, label="validation", color="C1")
    if val_accuracy is not None and drew_val:
        best = int(np.nanargmax(val_accuracy))
        accuracy_ax.plot(
            epochs[best],
            val_accuracy[best],
            marker="*",
            markersize=12,
            color="C3",
            linestyle="none",
            label=f"best val {val_accuracy[best]:.4f} (epoch {epochs[best]:g})",
        )
    if not (drew_train or drew_val):
        accuracy_ax.text(
            0.5,
            0.5,
            "no accuracy recorded",
            ha="center",
            va="center",
            transform=accuracy_ax.transAxes,
            color="0.4",
        )
    accuracy_ax.set(title="accuracy", xlabel="epoch", ylabel="accuracy")

    if rate_varies:
        rate_ax = axes[2]
        _plot_series(rate_ax, epochs, learning_rate, color="C2", drawstyle="steps-post")
        if finite_rates.max() / max(finite_rates.min(), np.finfo(float).tiny) > 10:
            rate_ax.set_yscale("log")
        rate_ax.set(title="learning rate", xlabel="epoch", ylabel="learning rate")

    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")

    heading = title or "training history"
    if finite_rates is not None and finite_rates.size and not rate_varies:
        heading += f" (learning rate {finite_rates[0]:g})"
    fig.suptitle(heading)
    return fig


def plot_histories(
    histories: Mapping[str, HistoryLike],
    metric: str = "val_accuracy",
    title: str | None = None,
) -> Figure:
    """Overlay one metric from several runs (a sweep) on one axes, one line per run.

    The legend sits outside the plot so 27 runs do not hide their own curves; a run whose
    metric is entirely missing/NaN (a failed run) is listed in the legend as "(no data)".
    Raises ``ValueError`` when no run recorded ``metric`` at all - usually a typo.
    Axes: 1.
    """
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError(
            "histories must be a non-empty mapping of run name -> history, "
            f"got {type(histories).__name__} of length {len(histories) if histories else 0}"
        )
    if not any(metric in history for history in histories.values() if isinstance(history, Mapping)):
        keys = sorted({k for h in histories.values() if isinstance(h, Mapping) for k in h})
        raise ValueError(f"no run recorded metric {metric!r}; available metrics: {keys}")

    fig = Figure(figsize=(8.0, 4.5), layout="constrained")
    ax = fig.subplots()
    colors = _run_colors(len(histories))
    marker = "o" if len(histories) <= 5 else None  # dots on 27 overlaid runs are noise
    for (name, history), color in zip(histories.items(), colors, strict=True):
        epochs = _epochs(history, name=f"histories[{name!r}]")
        values = _series(history, metric, epochs.shape[0])
        drawn = _plot_series(
            ax, epochs, values, label=str(name), color=color, linewidth=1.4, marker=marker
        )
        if not drawn:
            ax.plot([], [], label=f"{name} (no data)", color=color)
    ax.set(xlabel="epoch", ylabel=metric.replace("_", " "), title=title or metric.replace("_", " "))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small" if len(histories) <= 12 else "x-small",
        ncols=1 if len(histories) <= 20 else 2,
        frameon=False,
    )
    return fig


def _run_colors(count: int) -> list[tuple[float, ...]]:
    """Distinct colours for ``count`` runs: tab10, then tab20, then a continuous map."""
    from matplotlib import colormaps

    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    return [colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, count)]


# --------------------------------------------------------------------------- confusion matrix


def plot_confusion_matrix(
    cm: ArrayLike,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    title: str | None = None,
) -> Figure:
    """Heat map of a confusion matrix (rows true, columns predicted) with values in the cells.

    ``normalize=True`` divides each row by its support, so the diagonal reads as per-class
    recall and classes of different sizes compare fairly; a class with no samples shows 0s.
    Counts are written in every cell for up to 30 classes (beyond that they are unreadable).
    Axes: 2 (the matrix and its colour bar).
    """
    counts = np.asarray(cm)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(
            f"cm must be a square (num_classes, num_classes) matrix, got shape {counts.shape}"
        )
    if not np.issubdtype(counts.dtype, np.number) or (counts < 0).any():
        raise ValueError("cm must hold non-negative counts (use metrics.confusion_matrix)")
    num_classes = counts.shape[0]
    labels = _class_labels(class_names, num_classes)

    if normalize:
        row_sums = counts.sum(axis=1, keepdims=True).astype(np.float64)
        values = np.divide(counts, row_sums, out=np.zeros(counts.shape), where=row_sums > 0)
        text = np.char.mod("%.2f", values)
    else:
        values = counts
        is_whole = np.issubdtype(counts.dtype, np.integer) or np.all(counts == np.round(counts))
        text = np.char.mod("%d" if is_whole else "%.2f", counts)

    side = min(max(4.5, 0.55 * num_classes + 2.0), 16.0)
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(
        image, ax=ax, fraction=0.046, pad=0.04, label="row fraction" if normalize else "count"
    )

    ticks = np.arange(num_classes)
    long_labels = max(len(label) for label in labels) > 2
    ax.set_xticks(
        ticks, labels, rotation=45 if long_labels else 0, ha="right" if long_labels else "center"
    )
    ax.set_yticks(ticks, labels)
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")

    if num_classes <= 30:
        threshold = (values.max() if values.size else 0) / 2
        fontsize = 10 if num_classes <= 10 else 7 if num_classes <= 20 else 5
        for (row, column), value in np.ndenumerate(values):
            color = "white" if value > threshold else "black"
            ax.text(
                column,
                row,
                text[row, column],
                ha="center",
                va="center",
                fontsize=fontsize,
                color=color,
            )
    return fig


def _class_labels(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    if class_names is None:
        return [str(c) for c in range(num_classes)]
    labels = [str(name) for name in class_names]
    if len(labels) != num_classes:
        raise ValueError(
            f"class_names must have one name per class: expected {num_classes}, got {len(labels)}"
        )
    return labels


# --------------------------------------------------------------------------- image grids


def _grid_shape(count: int, ncols: int | None) -> tuple[int, int]:
    ncols = math.ceil(math.sqrt(count)) if ncols is None else check_integer(ncols, "ncols")
    ncols = min(ncols, count)
    return math.ceil(count / ncols), ncols


def _image_axes(fig: Figure, count: int, ncols: int | None) -> list[Axes]:
    """A grid of ``count`` bare image axes; unused grid cells are removed."""
    nrows, ncols = _grid_shape(count, ncols)
    grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in grid[count:]:
        ax.remove()
    for ax in grid[:count]:
        ax.set_xticks([])
        ax.set_yticks([])
    return list(grid[:count])


def _as_image_stack(
    images: ArrayLike, image_shape: tuple[int, int] | None, name: str = "images"
) -> np.ndarray:
    """Bring (n, h*w), (n, h, w), (n, 1, h, w) or (n, h, w, 1) images to (n, h, w)."""
    stack = np.asarray(images)
    if stack.size == 0:
        raise ValueError(f"{name} is empty: expected at least one image, got shape {stack.shape}")
    if stack.ndim == 4 and stack.shape[1] == 1:
        stack = stack[:, 0]
    elif stack.ndim == 4 and stack.shape[3] == 1:
        stack = stack[..., 0]
    if stack.ndim == 2:
        pixels = stack.shape[1]
        if image_shape is None:
            side = math.isqrt(pixels)
            if side * side != pixels:
                raise ValueError(
                    f"{name} has {pixels} values per row, which is not a square image; "
                    "pass image_shape=(height, width)"
                )
            image_shape = (side, side)
        if math.prod(image_shape) != pixels:
            raise ValueError(
                f"{name} has {pixels} values per row but image_shape {tuple(image_shape)} "
                f"holds {math.prod(image_shape)}"
            )
        return stack.reshape(stack.shape[0], *image_shape)
    if stack.ndim == 3:
        return stack
    raise ValueError(
        f"{name} must have shape (n, pixels), (n, h, w), (n, 1, h, w) or (n, h, w, 1); "
        f"got {stack.shape}"
    )


def plot_image_grid(
    images: ArrayLike,
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    max_images: int = 64,
    image_shape: tuple[int, int] | None = None,
    cmap: str = "gray",
    suptitle: str | None = None,
) -> Figure:
    """Show dataset samples in a grid, each with an optional title (e.g. its label).

    ``images`` may be flat rows ``(n, 784)`` (the shape the network sees), ``(n, 28, 28)`` or
    channel-first ``(n, 1, 28, 28)``; flat rows need ``image_shape`` unless they are square.
    Each image is scaled to its own min..max, so raw 0..255, [0, 1] and standardized inputs all
    look alike. Only the first ``max_images`` are drawn. Axes: one per drawn image.
    """
    max_images = check_integer(max_images, "max_images")
    stack = _as_image_stack(images, image_shape)[:max_images]
    count = stack.shape[0]
    if titles is not None:
        titles = [str(t) for t in titles]
        if len(titles) < count:
            raise ValueError(
                f"titles must have one entry per image: expected {count}, got {len(titles)}"
            )
    return _draw_images(stack, titles, ncols, cmap, suptitle)


def _draw_images(
    stack: np.ndarray,
    titles: Sequence[str] | None,
    ncols: int | None,
    cmap: str,
    suptitle: str | None,
) -> Figure:
    count = stack.shape[0]
    nrows, columns = _grid_shape(count, ncols)
    has_titles = titles is not None
    # size each cell to its longest title so neighbouring titles never overlap
    # (about 0.065 inch per character at 8 pt, 0.16 inch per title line)
    lines = [line for title in titles for line in title.split("\n")] if has_titles else [""]
    title_lines = max(title.count("\n") + 1 for title in titles) if has_titles else 0
    cell_width = max(1.25, 0.065 * max(map(len, lines)) + 0.15)
    fig = Figure(
        figsize=(cell_width * columns + 0.3, (1.25 + 0.16 * title_lines) * nrows + 0.5),
        layout="constrained",
    )
    for index, ax in enumerate(_image_axes(fig, count, columns)):
        ax.imshow(stack[index], cmap=cmap, interpolation="nearest")
        if has_titles:
            ax.set_title(titles[index], fontsize=8, pad=2)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_misclassified(
    images: ArrayLike,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    class_names: Sequence[str] | None = None,
    max_images: int = 36,
    *,
    ncols: int | None = None,
    image_shape: tuple[int, int] | None = None,
) -> Figure:
    """The examples the model got wrong, each titled "true → predicted".

    Labels may be integers or one-hot / probability matrices (argmax is taken). When
    ``y_pred`` is a probability matrix (rows in [0, 1] summing to 1) the most confident
    mistakes come first and each title carries the predicted probability - those are the
    examples worth looking at (often mislabelled data). Otherwise the order is dataset order.
    Axes: one per drawn image, or 1 with a note when nothing was misclassified.
    """
    max_images = check_integer(max_images, "max_images")
    stack = _as_image_stack(images, image_shape)
    true, _ = _as_labels(y_true, "y_true")
    pred, _ = _as_labels(y_pred, "y_pred")
    if not stack.shape[0] == true.shape[0] == pred.shape[0]:
        raise ValueError(
            "images, y_true and y_pred must have the same number of samples, got "
            f"{stack.shape[0]}, {true.shape[0]} and {pred.shape[0]}"
        )
    num_classes = max(int(true.max()), int(pred.max())) + 1
    labels = _class_labels(
        class_names, len(class_names) if class_names is not None else num_classes
    )
    if len(labels) < num_classes:
        raise ValueError(
            f"class_names has {len(labels)} names but the labels go up to {num_classes - 1}"
        )

    wrong = np.flatnonzero(true != pred)
    total_wrong = wrong.shape[0]
    if total_wrong == 0:
        fig = Figure(figsize=(4.0, 1.5), layout="constrained")
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, "no misclassified examples", ha="center", va="center")
        return fig

    probabilities = _probabilities_or_none(y_pred)
    confidence = None
    if probabilities is not None:
        confidence = probabilities[wrong, pred[wrong]]
        order = np.argsort(-confidence, kind="stable")
        wrong, confidence = wrong[order], confidence[order]
    shown = wrong[:max_images]
    titles = [f"{labels[true[i]]} → {labels[pred[i]]}" for i in shown]
    if confidence is not None:
        titles = [f"{t} ({p:.2f})" for t, p in zip(titles, confidence, strict=False)]
    if max(map(len, titles)) > 18:  # long class names: "true" over "→ predicted"
        titles = [title.replace(" → ", "\n→ ", 1) for title in titles]
    heading = f"misclassified: {shown.shape[0]} of {total_wrong} shown (true → predicted)"
    return _draw_images(stack[shown], titles, ncols, "gray", heading)


def _probabilities_or_none(y_pred: ArrayLike) -> np.ndarray | None:
    scores = np.asarray(y_pred)
    if scores.ndim != 2 or scores.shape[1] < 2 or not np.issubdtype(scores.dtype, np.floating):
        return None
    if scores.min() < 0 or scores.max() > 1 or not np.allclose(scores.sum(axis=1), 1, atol=1e-3):
        return None
    return scores


# --------------------------------------------------------------------------- weights


def plot_weight_images(
    W: ArrayLike,
    image_shape: tuple[int, int] = (28, 28),
    max_images: int = 64,
    *,
    ncols: int | None = None,
    unit_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """First-layer weights drawn as images: what pattern each unit responds to.

    With ``z = x @ W + b`` and ``W`` of shape (fan_in, fan_out), unit ``j``'s pre-activation is
    the dot product of the input image with column ``W[:, j]``; reshaped to ``image_shape`` that
    column is the template the unit matches (for a single-layer model, class ``j``'s template).
    Each image uses a diverging colormap centred at 0 with its own symmetric range
    ``±max|W[:, j]|``: red pixels push the unit up, blue push it down, white are ignored, and a
    unit with small weights is still readable. ``unit_names`` titles the images (e.g. class
    names); otherwise they are numbered. Axes: one per drawn unit.
    """
    weights = np.asarray(W, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(
            f"W must be a 2-D weight matrix of shape (fan_in, fan_out), got shape {weights.shape}"
        )
    max_images = check_integer(max_images, "max_images")
    if len(image_shape) != 2 or any(int(s) < 1 for s in image_shape):
        raise ValueError(f"image_shape must be (height, width), got {image_shape!r}")
    fan_in, fan_out = weights.shape
    pixels = math.prod(image_shape)
    if fan_in != pixels:
        hint = ""
        if fan_out == pixels:
            hint = (
                f"; W looks transposed (textbook layout, rows = units): pass W.T, "
                f"shape ({fan_out}, {fan_in})"
            )
        elif math.isqrt(fan_in) ** 2 == fan_in:
            side = math.isqrt(fan_in)
            hint = f"; pass image_shape=({side}, {side})"
        else:
            hint = "; pass an image_shape whose height * width equals fan_in"
        raise ValueError(
            f"W has fan_in {fan_in} (rows) but image_shape {tuple(image_shape)} holds "
            f"{pixels} pixels{hint}"
        )
    count = min(fan_out, max_images)
    if unit_names is not None:
        names = [str(n) for n in unit_names]
        if len(names) < count:
            raise ValueError(f"unit_names must name each unit: expected {count}, got {len(names)}")
    else:
        names = [str(j) for j in range(count)]

    nrows, columns = _grid_shape(count, ncols)
    fig = Figure(figsize=(1.2 * columns + 0.3, 1.35 * nrows + 0.6), layout="constrained")
    templates = weights[:, :count].T.reshape(count, *image_shape)
    extent = np.abs(templates).max(axis=(1, 2))
    fontsize = 8 if count <= 36 else 6
    for j, ax in enumerate(_image_axes(fig, count, columns)):
        limit = extent[j] if extent[j] > 0 else 1.0
        ax.imshow(templates[j], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(names[j], fontsize=fontsize, pad=2)
    heading = title or f"first-layer weights: {count} of {fan_out} units"
    fig.suptitle(heading + " (red +, blue −, per-image scale)", fontsize=10)
    return fig


# --------------------------------------------------------------------------- convolutions


def plot_filters(W: ArrayLike, max_filters: int = 64, *, title: str | None = None) -> Figure:
    """A convolution's filters drawn as images, one per output channel.

    ``W`` is a Conv2D kernel of shape (out_channels, in_channels, kh, kw). Filter ``o`` is the
    template output channel ``o`` matches at every position; with several input channels it
    is drawn as the *mean over the input channels* (for a first layer on gray images there
    is just one). Each image uses a diverging colormap centred at 0 with its own symmetric
    range ``±max|filter|``: red pixels push the output up, blue push it down, white are
    ignored. Only the first ``max_filters`` are drawn. Axes: one per drawn filter.
    """
    kernel = np.asarray(W, dtype=np.float64)
    if kernel.ndim != 4:
        raise ValueError(
            "W must be a convolution kernel of shape (out_channels, in_channels, kh, kw), "
            f"got shape {kernel.shape}; for a Dense layer's W use plot_weight_images"
        )
    max_filters = check_integer(max_filters, "max_filters")
    out_channels, in_channels, kh, kw = kernel.shape
    count = min(out_channels, max_filters)
    filters = kernel[:count].mean(axis=1)  # (count, kh, kw)
    extent = np.abs(filters).max(axis=(1, 2))

    nrows, columns = _grid_shape(count, None)
    fig = Figure(figsize=(1.1 * columns + 0.3, 1.25 * nrows + 0.6), layout="constrained")
    fontsize = 8 if count <= 36 else 6
    for o, ax in enumerate(_image_axes(fig, count, columns)):
        limit = extent[o] if extent[o] > 0 else 1.0
        ax.imshow(filters[o], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(str(o), fontsize=fontsize, pad=2)
    channels = "" if in_channels == 1 else f", mean over {in_channels} input channels"
    heading = title or f"filters {kh}x{kw}: {count} of {out_channels}{channels}"
    fig.suptitle(heading + " (red +, blue −, per-filter scale)", fontsize=10)
    return fig


def plot_feature_maps(
    maps_by_layer: Mapping[str, ArrayLike], max_channels: int = 16, *, title: str | None = None
) -> Figure:
    """What each layer computes for one input image: its activation maps, one row per layer.

    ``maps_by_layer`` maps a layer name to that layer's output for a single image, shaped
    (channels, height, width) (a batch of one, (1, C, H, W), is accepted too, and a 2-D map
    counts as one channel). Row ``r`` shows the first ``max_channels`` channels of layer
    ``r`` as small images, in the mapping's order. A row shares one gray scale from its
    layer's minimum (black) to its maximum (white), so the channels of a layer compare: a
    black map after ReLU is a filter that found nothing. Axes: one per drawn map.
    """
    if not isinstance(maps_by_layer, Mapping) or not maps_by_layer:
        raise ValueError(
            "maps_by_layer must be a non-empty mapping of layer name -> (C, H, W) activations"
        )
    max_channels = check_integer(max_channels, "max_channels")
    rows = []
    for name, maps in maps_by_layer.items():
        array = np.asarray(maps, dtype=np.float64)
        if array.ndim == 4 and array.shape[0] == 1:
            array = array[0]
        elif array.ndim == 2:
            array = array[None]
        if array.ndim != 3 or array.size == 0:
            raise ValueError(
                f"maps_by_layer[{name!r}] must be one image's activations of shape "
                f"(channels, height, width), got shape {np.shape(maps)}"
            )
        rows.append((str(name), array))

    columns = min(max_channels, max(array.shape[0] for _, array in rows))
    fig = Figure(figsize=(1.0 * columns + 1.6, 1.15 * len(rows) + 0.5), layout="constrained")
    grid = fig.subplots(len(rows), columns, squeeze=False)
    for (name, array), axes in zip(rows, grid, strict=True):
        shown = array[:max_channels]
        low, high = float(shown.min()), float(shown.max())
        if high <= low:
            high = low + 1.0
        for channel, ax in enumerate(axes):
            if channel >= shown.shape[0]:
                ax.remove()
                continue
            ax.set_xticks([])
            ax.set_yticks([])
            ax.imshow(shown[channel], cmap="gray", vmin=low, vmax=high, interpolation="nearest")
        channels, height, width = array.shape
        axes[0].set_ylabel(f"{name}\n{channels}×{height}×{width}", fontsize=8)
    fig.suptitle(title or "feature maps (one row per layer, first channels)", fontsize=10)
    return fig
