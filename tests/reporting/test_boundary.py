"""The decision-boundary figure: the plane coloured by what the model predicts, and the points."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from chainrule.reporting.boundary import boundary_extent, boundary_grid, plot_decision_boundary
from chainrule.reporting.figures import save_figure


def right_of(threshold):
    """A 'model' of two classes: P(class 1) rises steeply across x1 = threshold."""

    def probabilities(points):
        p = 1.0 / (1.0 + np.exp(-20.0 * (points[:, 0] - threshold)))
        return np.column_stack([1.0 - p, p])

    return probabilities


def points(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    return x, (x[:, 0] > 0).astype(np.int64)


def test_the_grid_covers_the_points_and_holds_the_model_s_probabilities():
    x, _ = points()
    extent = boundary_extent(x)
    assert extent[0] < x[:, 0].min() and extent[1] > x[:, 0].max()
    assert extent[2] < x[:, 1].min() and extent[3] > x[:, 1].max()
    grid = boundary_grid(right_of(0.0), extent, resolution=11)
    assert grid.shape == (11, 11, 2)
    xs = np.linspace(extent[0], extent[1], 11)
    # Columns run along x1 (origin lower-left), so P(class 1) grows left to right in every row.
    np.testing.assert_allclose(grid[0, :, 1], right_of(0.0)(np.column_stack([xs, xs]))[:, 1])
    assert np.all(np.diff(grid[5, :, 1]) > 0)


def test_one_sigmoid_output_becomes_two_columns():
    grid = boundary_grid(lambda p: right_of(0.0)(p)[:, 1:], (-1, 1, -1, 1), resolution=4)
    np.testing.assert_allclose(grid.sum(axis=2), 1.0)


def test_two_classes_draw_a_heat_map_the_boundary_contour_and_the_accuracy():
    x, y = points()
    x_test, y_test = points(seed=1)
    fig = plot_decision_boundary(right_of(0.0), x, y, x_test, y_test, class_names=["left", "right"],
                                 feature_names=["width", "height"])  # fmt: skip
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # the plane and its colour bar
    ax = fig.axes[0]
    assert ax.get_xlabel() == "width" and ax.get_ylabel() == "height"
    assert ax.get_title() == "decision boundary (train 100.0%, test 100.0%)"
    assert len(ax.collections) >= 3  # train and test points, and the 0.5 contour
    assert fig.axes[1].get_ylabel() == "P(right)"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["left", "right", "train", "test"]


def test_the_title_counts_the_points_on_the_wrong_side():
    x, y = points(n=50)
    wrong = plot_decision_boundary(right_of(0.5), x, y)  # boundary moved: some points misread
    expected = np.mean((x[:, 0] > 0.5) == y)
    assert wrong.axes[0].get_title() == f"decision boundary (train {expected:.1%})"


def test_more_classes_colour_the_plane_by_the_predicted_class(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(90, 2))
    y = np.digitize(x[:, 0], [-1 / 3, 1 / 3])

    def three(points):
        scores = -np.square(points[:, :1] - np.array([[-2 / 3, 0, 2 / 3]])) * 50
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    fig = plot_decision_boundary(three, x, y, resolution=30)
    assert len(fig.axes) == 1
    image = fig.axes[0].get_images()[0].get_array()
    assert image.shape == (30, 30, 3)
    # The left third of the plane is coloured one way, the right third another.
    assert not np.allclose(image[15, 2], image[15, -3])
    png, svg = save_figure(fig, tmp_path / "boundary")
    assert png.read_bytes().startswith(b"\x89PNG") and svg.stat().st_size > 0


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (
            np.zeros((5, 3)),
            np.zeros(5),
            r"two features: x_train must be \(n, 2\), got shape \(5, 3\)",
        ),
        (np.zeros((5, 2)), np.zeros(4), r"y_train must be \(5,\), got shape \(4,\)"),
    ],
)
def test_bad_points_are_refused_naming_the_shape(x, y, message):
    with pytest.raises(ValueError, match=message):
        plot_decision_boundary(right_of(0.0), x, y)
