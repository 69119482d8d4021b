"""Comparing a sweep's runs: the table, the figures, the report."""

from __future__ import annotations

import csv

import pytest

from chainrule.sweep import compare


@pytest.fixture(scope="module")
def comparison(local_sweep):
    return compare(local_sweep.directory, metric="test_accuracy", formats=("terminal", "csv"))


def test_compare_writes_tables_figures_and_reports(comparison, local_sweep):
    directory = local_sweep.directory
    written = {path.relative_to(directory).as_posix() for path in comparison.files}
    expected = {"comparison.csv", "comparison.md", "report.md", "report.html"}
    for stem in ("curves-by-variant", "curves-by-model.activation", "small-multiples",
                 "factor-effects"):  # fmt: skip
        expected |= {f"figures/{stem}.png", f"figures/{stem}.svg"}
    assert written == expected
    assert all((directory / name).stat().st_size > 0 for name in expected)


def test_the_table_ranks_finished_runs_best_first_and_failures_last(comparison):
    rows = comparison.rows
    assert [row["rank"] for row in rows] == [1, 2, 3, 4]
    assert [row["status"] for row in rows] == ["finished", "finished", "failed", "failed"]
    assert rows[0]["test_accuracy"] >= rows[1]["test_accuracy"]
    assert comparison.best["run"] == rows[0]["run"]
    assert comparison.headers[:5] == ["rank", "run", "variant", "model.activation", "status"]
    assert comparison.headers[5] == "test_accuracy"  # the ranking metric comes first


def test_the_text_holds_the_asked_formats(comparison, local_sweep):
    assert "4 runs by test_accuracy" in comparison.text  # the terminal table
    assert "rank,run,variant,model.activation,status,test_accuracy" in comparison.text  # CSV
    with open(local_sweep.directory / "comparison.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["run"] for row in table] == [row["run"] for row in comparison.rows]
    assert float(table[0]["test_accuracy"]) == comparison.rows[0]["test_accuracy"]
    markdown = (local_sweep.directory / "comparison.md").read_text()
    assert markdown.startswith("| rank | run | variant |")


def test_the_report_shows_the_best_configuration_and_the_failures(comparison, local_sweep):
    report = (local_sweep.directory / "report.md").read_text()
    for section in ("# Sweep mixed", "## Best configuration", "## All runs",
                    "## Effect of each factor on test_accuracy", "## Curves", "## Every run",
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
    assert result.text.startswith("| rank | run |")
    assert result.by == ["model.activation"]


def test_a_loss_ranks_lowest_first(local_sweep, tmp_path):
    result = compare(local_sweep.directory, metric="test_loss", out=tmp_path, figures=False)
    losses = [row["test_loss"] for row in result.rows if row["status"] == "finished"]
    assert losses == sorted(losses)
    assert not (tmp_path / "figures").exists()
    assert (tmp_path / "report.html").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"metric": "test_acuracy"}, "no run .* recorded metric 'test_acuracy'; numeric metrics"),
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
