"""Comparing a sweep's runs: the table, the figures, the report."""

from __future__ import annotations

import csv
import io
import re

import pytest
from rich.console import Console

from chainrule.sweep import compare
from chainrule.sweep.comparison import COLUMNS


@pytest.fixture(scope="module")
def comparison(local_sweep):
    return compare(local_sweep.directory, formats=("terminal", "csv"))  # the default metric


def test_compare_writes_tables_figures_and_reports(comparison, local_sweep):
    directory = local_sweep.directory
    written = {path.relative_to(directory).as_posix() for path in comparison.files}
    expected = {"comparison.csv", "comparison.md", "report.md", "report.html"}
    for stem in ("curves-by-variant", "curves-by-model.activation", "small-multiples",
                 "factor-effects"):  # fmt: skip
        expected |= {f"figures/{stem}.png", f"figures/{stem}.svg"}
    assert written == expected
    assert all((directory / name).stat().st_size > 0 for name in expected)


def test_the_table_ranks_finished_runs_best_first_and_failures_last(comparison, local_sweep):
    rows = comparison.rows
    assert [row["rank"] for row in rows] == [1, 2, 3, 4]
    assert [row["status"] for row in rows] == ["finished", "finished", "failed", "failed"]
    assert rows[0]["val_accuracy"] >= rows[1]["val_accuracy"]
    assert comparison.best["run"] == rows[0]["run"]
    assert comparison.headers[:5] == ["rank", "run", "variant", "model.activation", "status"]
    # the grid names no metric and the runs hold out validation data: val_accuracy ranks,
    # the same metric the sweep itself chose its best run by
    assert comparison.metric == local_sweep.metric == "val_accuracy"
    assert comparison.best["run"] == local_sweep.best.name
    assert comparison.headers[5] == "val_accuracy"  # the ranking metric comes first
    assert "test_accuracy" in comparison.headers  # the test set is reported


def test_every_table_says_which_metric_ranked_it(comparison, local_sweep):
    ranked = "ranked by val_accuracy (higher is better), on the validation data"
    assert f"4 runs, {ranked}" in " ".join(comparison.text.split())  # the terminal table
    assert "rank_by_val_accuracy,run,variant,model.activation,status,val_accuracy" in (
        comparison.text  # CSV
    )
    with open(local_sweep.directory / "comparison.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["run"] for row in table] == [row["run"] for row in comparison.rows]
    assert float(table[0]["val_accuracy"]) == comparison.rows[0]["val_accuracy"]
    markdown = (local_sweep.directory / "comparison.md").read_text()
    assert markdown.startswith(f"R{ranked[1:]}; the test set is reported, never used to choose.")
    assert "| rank | run | variant |" in markdown
    report = (local_sweep.directory / "report.md").read_text()
    assert f"Runs are {ranked}" in report
    assert "## All runs, ranked by val_accuracy" in report
    assert comparison.to_dict()["ranking"].startswith(ranked)


def test_the_report_shows_the_best_configuration_and_the_failures(comparison, local_sweep):
    report = (local_sweep.directory / "report.md").read_text()
    for section in ("# Sweep mixed", "## Best configuration (by val_accuracy)", "## All runs",
                    "## Effect of each factor on val_accuracy", "## Curves", "## Every run",
                    "## Failed runs", "## Grid"):  # fmt: skip
        assert section in report
    assert "class 99 does not exist" in report
    assert "figures/small-multiples.png" in report
    page = (local_sweep.directory / "report.html").read_text()
    assert '<img src="figures/factor-effects.png"' in page
    assert comparison.best["run"] in page


def test_by_picks_the_factor_that_colours_the_curves(local_sweep, tmp_path):
    result = compare(local_sweep.directory, by="model.activation", formats=("md",), out=tmp_path)
    figures = {path.name for path in (tmp_path / "figures").iterdir()}
    assert "curves-by-model.activation.png" in figures
    assert "curves-by-variant.png" not in figures
    assert "\n| rank | run |" in result.text
    assert result.by == ["model.activation"]


def test_a_loss_ranks_lowest_first(local_sweep, tmp_path):
    result = compare(local_sweep.directory, metric="val_loss", out=tmp_path, figures=False)
    losses = [row["val_loss"] for row in result.rows if row["status"] == "finished"]
    assert losses == sorted(losses)
    assert "ranked by val_loss (lower is better)" in result.ranking.describe()
    assert not (tmp_path / "figures").exists()
    assert (tmp_path / "report.html").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"metric": "val_acuracy"}, "no run .* recorded metric 'val_acuracy'; numeric metrics"),
        # the runs hold out validation data: the test set may not choose
        ({"metric": "test_accuracy"}, "'test_accuracy' would choose .* test set; rank by val_acc"),
        ({"metric": "test_loss"}, "'test_loss' would choose .* rank by val_loss"),
        ({"by": "model.init"}, "by='model.init' is not a factor .* variant, model.activation"),
        ({"formats": ("html",)}, "formats may contain terminal, csv, markdown"),
    ],
)
def test_compare_errors(local_sweep, tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        compare(local_sweep.directory, out=tmp_path, **arguments)


def test_a_folder_without_a_sweep(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a sweep directory: sweep.sqlite not found"):
        compare(tmp_path)


# -- model selection: validation data chooses, the test set is only reported ---------------
def test_the_grids_metric_on_validation_data_chooses_not_the_test_set(store_sweep, tmp_path):
    # the example: 64 is best on validation data, 128 on the test set
    sweep = store_sweep(
        {
            "64": {"val_accuracy": 0.91, "test_accuracy": 0.84},
            "128": {"val_accuracy": 0.89, "test_accuracy": 0.86},
        },
        metric="val_accuracy",
    )
    result = compare(sweep, figures=False)
    assert result.metric == "val_accuracy"
    assert [row["run"] for row in result.rows] == ["64", "128"]
    assert result.best["run"] == "64"
    report = (sweep / "report.md").read_text()
    best = report.split("## Best configuration (by val_accuracy)")[1].split("##")[0]
    assert "Run 64." in best and "86.00%" not in best
    assert "| test_accuracy | 84.00% |" in best  # reported beside it


def test_a_grid_metric_on_the_test_set_is_refused_naming_the_grid(store_sweep):
    sweep = store_sweep({"64": {"val_accuracy": 0.9, "test_accuracy": 0.8}}, metric="test_accuracy")
    with pytest.raises(ValueError, match=r"grid.yaml: metric: 'test_accuracy' would choose"):
        compare(sweep, figures=False)
    assert compare(sweep, metric="val_accuracy", figures=False).best["run"] == "64"


def test_without_validation_data_the_tables_say_the_test_set_ranked(store_sweep):
    sweep = store_sweep(
        {
            "64": {"val_accuracy": None, "test_accuracy": 0.84},
            "128": {"val_accuracy": None, "test_accuracy": 0.86},
        },
        validation_fraction=0.0,
    )
    result = compare(sweep, formats=("terminal", "markdown"), figures=False)
    assert (result.metric, result.best["run"]) == ("test_accuracy", "128")
    said = "no run holds out validation data (data.validation_fraction is 0)"
    assert said in " ".join(result.text.split())
    assert said in (sweep / "report.md").read_text()
    assert (sweep / "comparison.csv").read_text().startswith("rank_by_test_accuracy,run,")


# -- the terminal table fits its width without cutting a number -------------------------------
def _printed(result, width):
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(result.rich_table(width=width))
    return console.file.getvalue()


def test_at_80_columns_numbers_are_whole_and_dropped_columns_are_named(comparison):
    wide = _printed(comparison, 400)
    assert "…" not in wide and "not shown" not in wide  # every column fits at 400

    text = _printed(comparison, 80)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    note = " ".join(text.split()).split("not shown at 80 columns: ")[1]
    dropped = note.split(" (every column")[0].split(", ")
    assert dropped and set(dropped) <= set(COLUMNS) | {"variant", "model.activation"}
    assert "val_accuracy" not in dropped  # the ranking metric always stays
    assert dropped[-1] == "train_seconds"  # times go first (named in table order)
    cells = re.findall(r"\d+\.\d+%?", text)
    for row in comparison.rows:
        assert row["status"] in text  # never "fini…"
        for header in ("val_accuracy", "test_accuracy"):
            if header not in dropped and row[header] is not None:
                assert f"{100 * row[header]:.2f}%" in cells  # whole, on one line


def test_a_comparison_shows_its_ranked_table_in_a_notebook(comparison, html_text):
    best = comparison.best["run"]
    assert repr(comparison) == (
        f"ComparisonResult({str(comparison.directory)!r}, 4 runs ranked by val_accuracy, "
        f"best {best!r})"
    )
    page = comparison._repr_html_()
    text = html_text(page)
    assert text.startswith("Ranked by val_accuracy (higher is better), on the validation data")
    rows = re.findall(r"<tr( class=\"bold\")?><td class=\"num\">(\d)</td><td>([^<]+)</td>", page)
    assert [(rank, run) for _, rank, run in rows] == [
        (str(row["rank"]), row["run"]) for row in comparison.rows
    ]
    assert [bold for bold, _, _ in rows] == [' class="bold"', "", "", ""]  # the best, in bold
    markdown = comparison._repr_markdown_()
    assert f"| **1** | **{best}** |" in markdown and "| rank | run | variant |" in markdown
