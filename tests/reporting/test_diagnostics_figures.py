"""Diagnostics figures: gradient norms, update ratios and histograms drawn from a run's files."""

import pytest

from chainrule.app.recipes import parse_recipe
from chainrule.data import load_split, scale
from chainrule.reporting.diagnostics_figures import (
    NUMERIC_FIELDS,
    plot_runs_side_by_side,
    write_figures,
)
from chainrule.training.diagnostics import Diagnostics
from chainrule.training.trainer import Trainer


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory):
    """Two short runs with diagnostics on (one and three sigmoid layers), as run directories."""
    images, labels = load_split("mnist", "test", data_dir=shared_data, download=False)
    x, y = scale(images[:600].reshape(600, -1)), labels[:600]
    directories = {}
    for hidden in ([32], [32, 16, 16]):
        recipe = parse_recipe({"model": {"hidden": hidden, "activation": "sigmoid"},
                               "training": {"optimizer": {"name": "sgd"}}})  # fmt: skip
        diagnostics = Diagnostics(every=5)
        trainer = Trainer(recipe.build_model(), recipe.build_optimizer(), epochs=1,
                          callbacks=[diagnostics], progress=False)  # fmt: skip
        trainer.fit(x, y)
        directory = tmp_path_factory.mktemp(f"depth{len(hidden)}")
        diagnostics.write(directory)
        directories[f"{len(hidden)} hidden"] = directory
    return directories


def test_write_figures_draws_norms_ratios_and_histograms(runs):
    directory = runs["1 hidden"]
    paths = write_figures(directory)
    names = {path.name for path in paths}
    assert {"gradient_norms.png", "update_ratios.png", "activation_histograms.png"} <= names
    assert {"gradient_norms.svg", "update_ratios.svg"} <= names
    assert all(path.parent == directory / "figures" and path.stat().st_size > 0 for path in paths)


def test_runs_side_by_side_get_one_panel_each_with_a_line_per_layer(runs):
    figure = plot_runs_side_by_side(runs, "update_ratio")
    panels = figure.axes
    assert [axes.get_title() for axes in panels] == list(runs)
    assert [len(axes.get_lines()) for axes in panels] == [2, 4]  # hidden layers + the output
    assert all(axes.get_yscale() == "log" for axes in panels)


def test_an_unknown_diagnostic_lists_the_ones_there_are(runs):
    with pytest.raises(
        ValueError, match=f"unknown diagnostic 'layer'; choose one of {', '.join(NUMERIC_FIELDS)}"
    ):
        plot_runs_side_by_side(runs, "layer")
