"""The decision boundary of a model of two features: what it predicts over the whole plane.

A grid of points covering the data (padded by a tenth of their spread) goes through the model;
the figure colours each grid cell by the predicted class, the colour's strength by the model's
confidence, and draws the train points (circles) and test points (triangles) on top, each in
its true class's colour, so a point on the wrong colour is a mistake. Two classes get a
diverging heat map of P(class 1) with the 0.5 contour (the boundary itself) and a colour bar;
more classes get the class colours, faded towards white where the model is unsure.

The model is any callable from points (m, 2) in the data's own coordinates to probabilities
(m, classes), or (m, 1) for one sigmoid output: the caller composes preprocessing and model,
so the axes read in the units of the data, not of the network's inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

__all__ = ["boundary_extent", "boundary_grid", "plot_decision_boundary"]

Probabilities = Callable[[np.ndarray], np.ndarray]

#: Grid points evaluated per call: bounds the memory of one forward pass.
_CHUNK = 16384


def boundary_extent(*points: np.ndarray, pad: float = 0.1) -> tuple[float, float, float, float]:
    """(x_min, x_max, y_min, y_max) around all ``points`` (each (n, 2)), padded by ``pad`` of
    the spread (at least 0.5 in all, so a single point or a line still gets a plane)."""
    stacked = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in points])
    if stacked.size == 0:
        raise ValueError("boundary_extent needs at least one point")
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    margin = np.maximum((high - low) * pad, 0.25)
    low, high = low - margin, high + margin
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def boundary_grid(
    probabilities: Probabilities,
    extent: tuple[float, float, float, float],
    resolution: int = 200,
) -> np.ndarray:
    """The model's probabilities on a ``resolution`` × ``resolution`` grid over ``extent``:
    shape (resolution, resolution, classes), row 0 at ``y_min`` (imshow with origin="lower").
    One sigmoid output p becomes the two columns (1 - p, p)."""
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    x_min, x_max, y_min, y_max = extent
    xs = np.linspace(x_min, x_max, resolution)
    ys = np.linspace(y_min, y_max, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    parts = [
        np.asarray(probabilities(points[start : start + _CHUNK]), dtype=np.float64)
        for start in range(0, len(points), _CHUNK)
    ]
    proba = np.concatenate(parts).reshape(len(points), -1)
    if proba.shape[1] == 1:
        proba = np.column_stack([1.0 - proba[:, 0], proba[:, 0]])
    return proba.reshape(resolution, resolution, -1)


def _class_colors(count: int) -> list[tuple[float, float, float]]:
    from matplotlib import colormaps

    if count == 2:  # the ends of the diverging map the two-class heat map uses
        cmap = colormaps["RdBu_r"]
        return [cmap(0.0)[:3], cmap(1.0)[:3]]
    table = colormaps["tab10" if count <= 10 else "tab20"]
    return [table(i % table.N)[:3] for i in range(count)]


def plot_decision_boundary(
    probabilities: Probabilities,
    x_train: ArrayLike,
    y_train: ArrayLike,
    x_test: ArrayLike | None = None,
    y_test: ArrayLike | None = None,
    *,
    class_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    resolution: int = 200,
    title: str | None = None,
) -> Figure:
    """The predicted class over the plane with the train and test points (module docstring).

    The title gives the train and test accuracy of the same probabilities the picture shows.
    Axes: 2 for two classes (the plane and its colour bar), else 1.
    """
    x_train = np.asarray(x_train, dtype=np.float64)
    y_train = np.asarray(y_train)
    if x_train.ndim != 2 or x_train.shape[1] != 2:
        raise ValueError(
            f"a decision boundary is drawn for two features: x_train must be (n, 2), got "
            f"shape {x_train.shape}"
        )
    if y_train.shape != (len(x_train),):
        raise ValueError(f"y_train must be ({len(x_train)},), got shape {y_train.shape}")
    splits = [("train", x_train, y_train)]
    if x_test is not None and y_test is not None:
        x_test = np.asarray(x_test, dtype=np.float64)
        y_test = np.asarray(y_test)
        if x_test.ndim != 2 or x_test.shape[1] != 2 or y_test.shape != (len(x_test),):
            raise ValueError(
                f"x_test must be (n, 2) with y_test (n,), got {x_test.shape} and {y_test.shape}"
            )
        splits.append(("test", x_test, y_test))
    extent = boundary_extent(*(x for _, x, _ in splits))
    proba = boundary_grid(probabilities, extent, resolution)
    classes = max(proba.shape[2], int(max(y.max() for _, _, y in splits)) + 1)
    names = list(class_names) if class_names is not None else [str(k) for k in range(classes)]
    colors = _class_colors(classes)

    fig = Figure(figsize=(6.4 if classes == 2 else 5.6, 5.0), layout="constrained")
    ax = fig.subplots()
    if proba.shape[2] == 2:
        image = ax.imshow(
            proba[:, :, 1],
            origin="lower",
            extent=extent,
            cmap="RdBu_r",
            vmin=0.0,
            vmax=1.0,
            alpha=0.6,
            aspect="auto",
            interpolation="bilinear",
        )
        grid_x = np.linspace(extent[0], extent[1], resolution)
        grid_y = np.linspace(extent[2], extent[3], resolution)
        if proba[:, :, 1].min() < 0.5 < proba[:, :, 1].max():
            ax.contour(grid_x, grid_y, proba[:, :, 1], levels=[0.5], colors="k", linewidths=1.2)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=f"P({names[1]})")
    else:
        predicted = proba.argmax(axis=2)
        confidence = proba.max(axis=2)
        # Strength: 0 at chance (1/classes), 1 at certainty; faded towards white below.
        strength = np.clip((confidence - 1.0 / classes) / (1.0 - 1.0 / classes), 0.0, 1.0)
        palette = np.array(colors)
        rgb = 1.0 - (1.0 - palette[predicted]) * (0.15 + 0.45 * strength)[:, :, None]
        ax.imshow(rgb, origin="lower", extent=extent, aspect="auto", interpolation="nearest")
    markers = {"train": ("o", "white", 22), "test": ("^", "black", 30)}
    accuracies = []
    for split, x, y in splits:
        marker, edge, size = markers[split]
        point_colors = np.array(colors)[np.asarray(y, dtype=np.int64)]
        ax.scatter(
            x[:, 0], x[:, 1], c=point_colors, marker=marker, s=size, edgecolors=edge, linewidths=0.5
        )
        predicted_points = np.asarray(probabilities(x), dtype=np.float64).reshape(len(x), -1)
        if predicted_points.shape[1] == 1:
            hits = (predicted_points[:, 0] >= 0.5).astype(np.int64) == y
        else:
            hits = predicted_points.argmax(axis=1) == y
        accuracies.append(f"{split} {hits.mean():.1%}")
    _legend(ax, names, colors, [split for split, _, _ in splits], markers)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    features = list(feature_names) if feature_names is not None else ["x1", "x2"]
    ax.set(xlabel=features[0], ylabel=features[1])
    ax.set_title(title or f"decision boundary ({', '.join(accuracies)})")
    return fig


def _legend(ax, names: list[str], colors: list, splits: list[str], markers: dict) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="s", linestyle="", markersize=8, color=color, label=name)
        for name, color in zip(names, colors, strict=False)
    ]
    for split in splits:
        marker, edge, _ = markers[split]
        handles.append(
            Line2D(
                [],
                [],
                marker=marker,
                linestyle="",
                markersize=6,
                markerfacecolor="0.6",
                markeredgecolor=edge if edge != "white" else "0.3",
                color="0.6",
                label=split,
            )
        )
    ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.85)
