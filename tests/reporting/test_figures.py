"""Figures: each builds, has the axes it promises, and saves atomically as PNG and SVG."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from chainrule.reporting.figures import (
    plot_confusion_matrix,
    plot_histories,
    plot_history,
    plot_image_grid,
    plot_misclassified,
    plot_weight_images,
    save_figure,
)
from chainrule.reporting.metrics import confusion_matrix

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_history(epochs=5, learning_rates=None):
    history = {
        "epoch": list(range(1, epochs + 1)),
        "train_loss": [1.0 / (e + 1) for e in range(epochs)],
        "train_accuracy": [0.5 + 0.08 * e for e in range(epochs)],
        "val_loss": [None] + [1.2 / (e + 1) for e in range(1, epochs)],
        "val_accuracy": [float("nan")] + [0.45 + 0.08 * e for e in range(1, epochs)],
    }
    if learning_rates is not None:
        history["learning_rate"] = learning_rates
    return history


def test_plot_history_two_panels_skipping_missing_values():
    fig = plot_history(make_history())
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    loss_ax = fig.axes[0]
    validation_line = loss_ax.get_lines()[1]
    assert len(validation_line.get_xdata()) == 4  # the None entry was skipped


def test_plot_history_adds_learning_rate_panel_only_when_it_changes():
    assert len(plot_history(make_history(learning_rates=[0.1] * 5)).axes) == 2
    assert len(plot_history(make_history(learning_rates=[0.1, 0.1, 0.01, 0.01, 0.001])).axes) == 3


def test_plot_history_without_accuracy_or_epoch():
    fig = plot_history({"train_loss": [0.9, 0.5, 0.4]})
    assert len(fig.axes) == 2


def test_plot_histories_one_axes_one_line_per_run():
    runs = {"relu": make_history(), "tanh": make_history(4), "failed": {"train_loss": [1.0]}}
    fig = plot_histories(runs, metric="val_accuracy")
    assert len(fig.axes) == 1
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["relu", "tanh", "failed (no data)"]


def test_plot_confusion_matrix_writes_counts_in_cells():
    cm = confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2], 3)
    fig = plot_confusion_matrix(cm, class_names=["a", "b", "c"])
    assert len(fig.axes) == 2  # matrix + colour bar
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert len(texts) == 9 and texts[8] == "2"


def test_plot_confusion_matrix_normalized_rows():
    fig = plot_confusion_matrix(np.array([[3, 1], [0, 0]]), normalize=True)
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert texts == ["0.75", "0.25", "0.00", "0.00"]  # the empty row stays 0, not NaN


def test_plot_weight_images_one_axes_per_unit():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(784, 10))  # (fan_in, fan_out): one 28x28 template per column
    fig = plot_weight_images(W)
    assert len(fig.axes) == 10
    image = fig.axes[3].get_images()[0]
    np.testing.assert_allclose(image.get_array(), W[:, 3].reshape(28, 28))
    low, high = image.get_clim()
    assert low == pytest.approx(-high)  # centred at 0
    assert len(plot_weight_images(rng.normal(size=(16, 100)), (4, 4), max_images=9).axes) == 9


@pytest.mark.parametrize("shape", [(6, 784), (6, 28, 28), (6, 1, 28, 28)])
def test_plot_image_grid_accepts_image_layouts(shape):
    images = np.random.default_rng(0).random(shape)
    fig = plot_image_grid(images, titles=[str(i) for i in range(6)])
    assert len(fig.axes) == 6
    assert fig.axes[0].get_images()[0].get_array().shape == (28, 28)


def test_plot_misclassified_titles_true_arrow_predicted():
    images = np.zeros((5, 1, 28, 28))
    fig = plot_misclassified(images, [0, 1, 2, 3, 4], [0, 7, 2, 3, 9], max_images=36)
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["1 → 7", "4 → 9"]


def test_plot_misclassified_orders_by_confidence_with_probabilities():
    probabilities = np.array([[0.4, 0.6], [0.1, 0.9], [0.8, 0.2]])
    fig = plot_misclassified(np.zeros((3, 4)), [0, 0, 0], probabilities, class_names=["no", "yes"])
    assert [ax.get_title() for ax in fig.axes] == ["no → yes (0.90)", "no → yes (0.60)"]


def test_plot_misclassified_with_nothing_wrong():
    fig = plot_misclassified(np.zeros((2, 784)), [1, 2], [1, 2])
    assert len(fig.axes) == 1


def test_save_figure_writes_png_and_svg_atomically(tmp_path):
    fig = plot_image_grid(np.random.default_rng(0).random((4, 8, 8)))
    paths = save_figure(fig, tmp_path / "sub" / "grid.v1")
    assert [p.name for p in paths] == ["grid.v1.png", "grid.v1.svg"]
    png, svg = (p.read_bytes() for p in paths)
    assert png.startswith(PNG_SIGNATURE)
    assert b"<svg" in svg[:1000] and svg.rstrip().endswith(b"</svg>")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["grid.v1.png", "grid.v1.svg"]


# ---------------------------------------------------------------- one test per error message


def test_error_weights_fan_in_suggests_image_shape():
    with pytest.raises(ValueError, match=r"fan_in 100 .* 784 pixels; pass image_shape=\(10, 10\)"):
        plot_weight_images(np.zeros((100, 5)))


def test_error_weights_transposed_suggests_W_T():
    with pytest.raises(ValueError, match=r"W looks transposed .* pass W\.T"):
        plot_weight_images(np.zeros((10, 784)))


def test_error_weights_not_matrix():
    with pytest.raises(ValueError, match="W must be a 2-D weight matrix"):
        plot_weight_images(np.zeros(784))


def test_error_history_missing_train_loss():
    with pytest.raises(
        ValueError, match=r"history needs a 'train_loss' list; it has keys \['loss'\]"
    ):
        plot_history({"loss": [1.0]})


def test_error_history_unequal_lengths():
    with pytest.raises(ValueError, match=r"history\['val_loss'\] has 2 entries, expected 3"):
        plot_history({"train_loss": [1, 2, 3], "val_loss": [1, 2]})


def test_error_histories_unknown_metric():
    with pytest.raises(ValueError, match="no run recorded metric 'val_acc'; available metrics"):
        plot_histories({"a": make_history()}, metric="val_acc")


def test_error_confusion_matrix_not_square():
    with pytest.raises(ValueError, match=r"cm must be a square .* got shape \(2, 3\)"):
        plot_confusion_matrix(np.zeros((2, 3)))


def test_error_class_names_length():
    with pytest.raises(ValueError, match="class_names must have one name per class: expected 2"):
        plot_confusion_matrix(np.eye(2), class_names=["a"])


def test_error_images_not_square():
    with pytest.raises(ValueError, match="not a square image; pass image_shape"):
        plot_image_grid(np.zeros((3, 10)))


def test_error_misclassified_lengths():
    with pytest.raises(ValueError, match="same number of samples, got 3, 2 and 2"):
        plot_misclassified(np.zeros((3, 784)), [0, 1], [1, 0])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_images": 0}, "max_images must be an integer >= 1, got 0"),
        ({"max_images": True}, "max_images must be an integer >= 1, got True"),
        ({"ncols": 0}, "ncols must be an integer >= 1, got 0"),
        ({"ncols": 2.0}, "ncols must be an integer >= 1, got 2.0"),
    ],
)
def test_error_image_grid_counts(arguments, message):
    with pytest.raises(ValueError, match=message):
        plot_image_grid(np.zeros((4, 784)), **arguments)


def test_error_save_figure_suffix(tmp_path):
    with pytest.raises(ValueError, match="should not end in a format suffix"):
        save_figure(Figure(), tmp_path / "curves.png")


def test_error_save_figure_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="formats may contain png, svg, pdf; got 'jpg'"):
        save_figure(Figure(), tmp_path / "curves", formats=("jpg",))


# ---------------------------------------------------------------- convolution filters and maps


def test_plot_filters_one_image_per_output_channel_centred_at_zero():
    from chainrule.reporting.figures import plot_filters

    W = np.random.default_rng(0).normal(size=(6, 1, 5, 5))
    fig = plot_filters(W)
    assert len(fig.axes) == 6
    image = fig.axes[2].get_images()[0]
    np.testing.assert_array_equal(image.get_array(), W[2, 0])
    low, high = image.get_clim()
    assert low == -high == -np.abs(W[2]).max()
    assert image.get_cmap().name == "RdBu_r"


def test_plot_filters_averages_input_channels_and_caps_the_count():
    from chainrule.reporting.figures import plot_filters

    W = np.random.default_rng(0).normal(size=(80, 3, 3, 3))
    fig = plot_filters(W, max_filters=10)
    assert len(fig.axes) == 10
    np.testing.assert_allclose(fig.axes[0].get_images()[0].get_array(), W[0].mean(axis=0))
    assert "mean over 3 input channels" in fig._suptitle.get_text()


def test_plot_filters_of_a_trained_conv_layer_saves(tmp_path):
    from chainrule.nn.layers import Conv2D
    from chainrule.nn.model import Sequential
    from chainrule.reporting.figures import plot_filters

    model = Sequential([Conv2D(8, 3)], input_shape=(1, 28, 28))
    paths = save_figure(plot_filters(model.params["conv2d_1.W"]), tmp_path / "filters")
    assert paths[0].read_bytes().startswith(PNG_SIGNATURE)


def test_plot_feature_maps_one_row_per_layer():
    from chainrule.reporting.figures import plot_feature_maps

    rng = np.random.default_rng(0)
    maps = {
        "input": rng.random((1, 28, 28)),
        "conv2d_1": rng.random((1, 8, 26, 26)),  # a batch of one is accepted
        "max_pool2d_1": rng.random((20, 13, 13)),
    }
    fig = plot_feature_maps(maps, max_channels=16)
    assert len(fig.axes) == 1 + 8 + 16
    rows = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert rows == ["input\n1×28×28", "conv2d_1\n8×26×26", "max_pool2d_1\n20×13×13"]
    # one gray scale per layer
    pool_images = [ax.get_images()[0] for ax in fig.axes[-16:]]
    assert len({image.get_clim() for image in pool_images}) == 1


def test_error_plot_filters_needs_a_4d_kernel():
    from chainrule.reporting.figures import plot_filters

    with pytest.raises(
        ValueError, match=r"\(out_channels, in_channels, kh, kw\), got shape \(784, 10\)"
    ):
        plot_filters(np.zeros((784, 10)))


def test_error_plot_feature_maps_bad_shape():
    from chainrule.reporting.figures import plot_feature_maps

    with pytest.raises(
        ValueError, match=r"maps_by_layer\['dense_1'\] must be .* got shape \(10,\)"
    ):
        plot_feature_maps({"conv2d_1": np.zeros((2, 5, 5)), "dense_1": np.zeros(10)})
    with pytest.raises(ValueError, match="non-empty mapping"):
        plot_feature_maps({})


def test_error_filter_and_channel_counts():
    from chainrule.reporting.figures import plot_feature_maps, plot_filters

    with pytest.raises(ValueError, match="max_filters must be an integer >= 1, got 0"):
        plot_filters(np.zeros((2, 1, 3, 3)), max_filters=0)
    with pytest.raises(ValueError, match="max_channels must be an integer >= 1, got 0"):
        plot_feature_maps({"conv2d_1": np.zeros((2, 5, 5))}, max_channels=0)


def test_save_figure_on_a_full_disk_is_one_error_and_keeps_the_old_figure(tmp_path):
    """A real file-size limit (``ulimit -f``) in a child process: one WriteError line, the
    previous PNG untouched, no temporary file left."""
    import errno
    import os
    import subprocess
    import sys

    script = """
import resource, signal, sys
import numpy as np
from chainrule.reporting.figures import plot_image_grid, save_figure
from chainrule.utils.atomic import WriteError

images = np.random.default_rng(0).random((4, 8, 8))
save_figure(plot_image_grid(images[:1]), sys.argv[1], formats=("png",), dpi=20)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
resource.setrlimit(resource.RLIMIT_FSIZE, (512, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    save_figure(plot_image_grid(images), sys.argv[1], formats=("png",))
except WriteError as error:
    print(error)
"""
    base = tmp_path / "grid"
    result = subprocess.run(
        [sys.executable, "-c", script, str(base)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    png = tmp_path / "grid.png"
    expected = f"could not write {png}: {os.strerror(errno.EFBIG)} (the previous file is kept)"
    assert result.stdout.strip() == expected
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]
