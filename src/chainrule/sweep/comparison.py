"""``chainrule compare SWEEP_DIR``: every run of a sweep in one table, figures and a report.

:func:`compare` reads only ``sweep.sqlite`` (it works on a sweep still running) and writes,
into the sweep directory (or ``out``)::

    comparison.csv, comparison.md     all runs sorted by the metric, best first
    figures/curves-by-<factor>.png    validation curves of every run, one colour per level
    figures/small-multiples.png       one panel per run (train vs validation per epoch)
    figures/factor-effects.png        the final metric per level of each factor (box or bar)
    report.md, report.html            all of it, with the best configuration and failures

(each figure also as SVG). It returns the table as text in the formats asked for:
``terminal`` (a rich table, plain text), ``csv``, ``markdown``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chainrule.sweep.grid import VARIANT
from chainrule.sweep.runner import best_run, lower_is_better
from chainrule.sweep.store import STORE_NAME, RunRecord, SweepStore
from chainrule.utils.atomic import atomic_write_text

__all__ = ["FORMATS", "ComparisonResult", "compare"]

#: Table formats compare can return (``md`` is accepted for ``markdown``).
FORMATS = ("terminal", "csv", "markdown")

#: Final metrics shown for every run (the ranking metric comes first).
COLUMNS = ("test_accuracy", "val_accuracy", "test_loss", "val_loss", "epochs_run", "train_seconds")

_STATUS_ORDER = {"finished": 0, "failed": 1, "running": 2, "pending": 3}


@dataclass
class ComparisonResult:
    """The comparison: rows best first, the best run, and the files written."""

    directory: Path
    metric: str
    by: list[str]
    headers: list[str]
    rows: list[dict[str, Any]]  # one per run: header -> raw value
    best: dict[str, Any] | None
    text: str
    files: list[Path] = field(default_factory=list)

    def rich_table(self) -> Any:
        """The table as a :class:`rich.table.Table`, to print in colour."""
        return _rich_table(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "metric": self.metric,
            "by": self.by,
            "rows": self.rows,
            "best": self.best,
            "files": [str(path) for path in self.files],
        }


def compare(
    sweep_dir: str | Path,
    *,
    metric: str = "test_accuracy",
    by: str | None = None,
    formats: Sequence[str] = ("terminal",),
    out: str | Path | None = None,
    figures: bool = True,
) -> ComparisonResult:
    """Compare the runs of the sweep in ``sweep_dir`` (see the module docstring).

    ``metric`` ranks the runs (losses and times ascending, the rest descending). ``by`` names
    the factor whose levels colour the overlaid curves (an axis key such as
    ``model.activation``, or ``variant``); by default there is one curve figure per factor.
    ``out`` is the folder for the files (default: ``sweep_dir``). ``figures=False`` skips the
    drawing (the report then has tables only).
    """
    sweep_dir = Path(sweep_dir)
    formats = _check_formats(formats)
    store_path = sweep_dir / STORE_NAME
    if not store_path.is_file():
        raise FileNotFoundError(
            f"{sweep_dir} is not a sweep directory: {STORE_NAME} not found (run "
            "`chainrule sweep GRID.yaml` first)"
        )
    with SweepStore.open(store_path, readonly=True) as store:
        records = store.runs()
        histories = store.histories()
        name = store.meta("name") or sweep_dir.name
        factors = json.loads(store.meta("factors") or "[]")
        levels = json.loads(store.meta("levels") or "{}")
        description = store.meta("description") or ""
        grid_text = store.meta("grid_text") or ""
    if not records:
        raise ValueError(f"the sweep in {sweep_dir} has no runs")
    known = _metric_names(records)
    if metric not in known and any(r.status == "finished" for r in records):
        raise ValueError(
            f"no run of the sweep in {sweep_dir} recorded metric {metric!r}; "
            f"numeric metrics: {', '.join(sorted(known)) or 'none yet'}"
        )
    if by is not None and by not in factors:
        raise ValueError(
            f"by={by!r} is not a factor of the sweep in {sweep_dir}; its factors: "
            f"{', '.join(factors)}"
        )

    ordered = _sorted(records, metric)
    headers, rows = _table(ordered, factors, metric)
    best = best_run(records, metric)
    best_row = None if best is None else next(row for row in rows if row["run"] == best.name)
    result = ComparisonResult(
        directory=sweep_dir,
        metric=metric,
        by=[by] if by else list(factors),
        headers=headers,
        rows=rows,
        best=best_row,
        text="",
    )
    result.text = "\n".join(_render(result, fmt) for fmt in formats)

    out_dir = Path(out) if out is not None else sweep_dir
    result.files += [
        atomic_write_text(out_dir / "comparison.csv", _render(result, "csv")),
        atomic_write_text(out_dir / "comparison.md", _render(result, "markdown")),
    ]
    drawn: dict[str, list[Path]] = {}
    if figures:
        drawn = _draw(out_dir, records, histories, factors, levels, result.by, metric)
        result.files += [path for paths in drawn.values() for path in paths]
    result.files += _write_report(
        out_dir,
        sweep_dir,
        name=name,
        description=description,
        grid_text=grid_text,
        result=result,
        records=records,
        factors=factors,
        levels=levels,
        best=best,
        figures=drawn,
    )
    return result


# -- the table -------------------------------------------------------------------------------
def _check_formats(formats: Sequence[str]) -> list[str]:
    if isinstance(formats, str):
        formats = (formats,)
    result = []
    for fmt in formats:
        fmt = "markdown" if fmt == "md" else fmt
        if fmt not in FORMATS:
            raise ValueError(f"formats may contain {', '.join(FORMATS)}; got {fmt!r}")
        result.append(fmt)
    return result


def _metric_names(records: list[RunRecord]) -> set[str]:
    return {
        key
        for record in records
        for key, value in (record.metrics or {}).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def _sorted(records: list[RunRecord], metric: str) -> list[RunRecord]:
    """Finished runs best first, then runs without the metric, failed, running, pending."""
    sign = 1.0 if lower_is_better(metric) else -1.0

    def key(record: RunRecord) -> tuple:
        value = record.metric(metric)
        return (
            _STATUS_ORDER.get(record.status, 9),
            value is None,
            sign * value if value is not None else 0.0,
            record.position,
        )

    return sorted(records, key=key)


def _table(
    records: list[RunRecord], factors: list[str], metric: str
) -> tuple[list[str], list[dict[str, Any]]]:
    columns = [metric, *(c for c in COLUMNS if c != metric)]
    present = [c for c in columns if c == metric or any(r.metric(c) is not None for r in records)]
    headers = ["rank", "run", *factors, "status", *present]
    rows = []
    for rank, record in enumerate(records, start=1):
        row: dict[str, Any] = {"rank": rank, "run": record.name}
        row.update({factor: record.factors.get(factor, "") for factor in factors})
        row["status"] = record.status
        row.update({column: record.metric(column) for column in present})
        rows.append(row)
    return headers, rows


def _cell(header: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if header.endswith("accuracy"):
            return f"{100 * value:.2f}%"
        if header.endswith("seconds"):
            return f"{value:.1f}"
        if header == "epochs_run" or (value.is_integer() and "loss" not in header):
            return f"{value:g}"
        return f"{value:.4f}"
    return str(value)


def _render(result: ComparisonResult, fmt: str) -> str:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.headers)
        for row in result.rows:
            writer.writerow(["" if row[h] is None else row[h] for h in result.headers])
        return buffer.getvalue()
    if fmt == "markdown":
        from chainrule.reporting.report import md_cell

        numeric = [_numeric(h) for h in result.headers]
        lines = [
            "| " + " | ".join(md_cell(h) for h in result.headers) + " |",
            "| " + " | ".join("---:" if n else "---" for n in numeric) + " |",
        ]
        for row in result.rows:
            lines.append(
                "| " + " | ".join(md_cell(_cell(h, row[h])) for h in result.headers) + " |"
            )
        return "\n".join(lines) + "\n"
    from rich.console import Console

    table = _rich_table(result)
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console = Console(file=io.StringIO(), width=console.measure(table).maximum, color_system=None)
    console.print(table)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines()) + "\n"


def _numeric(header: str) -> bool:
    return (
        header == "rank"
        or header in COLUMNS
        or (header not in ("run", "status", VARIANT) and ("accuracy" in header or "loss" in header))
    )


def _rich_table(result: ComparisonResult) -> Any:
    from rich.table import Table

    best = result.best["run"] if result.best else None
    table = Table(title=f"{len(result.rows)} runs by {result.metric}")
    for header in result.headers:
        table.add_column(header, justify="right" if _numeric(header) else "left")
    for row in result.rows:
        style = "bold green" if row["run"] == best else "red" if row["status"] == "failed" else None
        table.add_row(*(_cell(h, row[h]) for h in result.headers), style=style)
    return table


# -- figures ---------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "factor"


def _draw(
    out_dir: Path,
    records: list[RunRecord],
    histories: dict[str, dict[str, list[float | None]]],
    factors: list[str],
    levels: dict[str, list[str]],
    by: list[str],
    metric: str,
) -> dict[str, list[Path]]:
    """Write the sweep's figures; returns their paths by figure name."""
    from chainrule.reporting.figures import save_figure
    from chainrule.sweep import figures as sweep_figures

    written: dict[str, list[Path]] = {}
    directory = out_dir / "figures"
    curve = _curve_metric(histories, metric)
    with_epochs = {name: h for name, h in histories.items() if h.get("epoch")}
    run_levels = {record.name: record.factors for record in records}
    if curve is not None and with_epochs:
        for factor in by:
            figure = sweep_figures.plot_curves_by_factor(
                with_epochs,
                {name: run_levels[name][factor] for name in with_epochs},
                levels.get(factor) or sorted({run_levels[n][factor] for n in with_epochs}),
                factor,
                curve,
            )
            stem = f"curves-by-{_slug(factor)}"
            written[stem] = save_figure(figure, directory / stem)
    if with_epochs:
        titles = {}
        for record in records:
            value = record.metric(metric)
            shown = (
                "failed"
                if record.status == "failed"
                else ""
                if value is None
                else _cell(metric, value)
            )
            titles[record.name] = f"{record.name}\n{shown}".rstrip()
        pair = (
            ("train_loss", "val_loss") if "loss" in metric else ("train_accuracy", "val_accuracy")
        )
        ncols = _sheet_columns(len(records), factors, levels)
        figure = sweep_figures.plot_small_multiples(
            {record.name: histories[record.name] for record in records}, titles, pair, ncols
        )
        written["small-multiples"] = save_figure(figure, directory / "small-multiples")
    effects = _factor_values(records, factors, levels, metric)
    if any(values for level_values in effects.values() for values in level_values.values()):
        figure = sweep_figures.plot_factor_effects(effects, metric)
        written["factor-effects"] = save_figure(figure, directory / "factor-effects")
    return written


def _curve_metric(histories: dict[str, dict[str, list]], metric: str) -> str | None:
    """The per-epoch quantity to overlay: validation accuracy (or loss), else training's."""
    kind = "loss" if "loss" in metric else "accuracy"
    for key in (f"val_{kind}", f"train_{kind}"):
        if any(v is not None for h in histories.values() for v in h.get(key, [])):
            return key
    return None


def _sheet_columns(count: int, factors: list[str], levels: dict[str, list[str]]) -> int:
    """Rows = the first factor's levels (a 3x9 sheet for 3x3x3), when that reads well."""
    if len(factors) >= 2:
        rows = len(levels.get(factors[0], []))
        if rows and count % rows == 0 and count // rows <= 12:
            return count // rows
    return min(count, 6) if count <= 6 else math.ceil(math.sqrt(count))


def _factor_values(
    records: list[RunRecord], factors: list[str], levels: dict[str, list[str]], metric: str
) -> dict[str, dict[str, list[float]]]:
    effects: dict[str, dict[str, list[float]]] = {}
    for factor in factors:
        effects[factor] = {level: [] for level in levels.get(factor, [])}
        for record in records:
            value = record.metric(metric)
            level = record.factors.get(factor)
            if value is not None and record.status == "finished" and level is not None:
                effects[factor].setdefault(level, []).append(value)
    return effects


# -- the report ------------------------------------------------------------------------------
def _write_report(
    out_dir: Path,
    sweep_dir: Path,
    *,
    name: str,
    description: str,
    grid_text: str,
    result: ComparisonResult,
    records: list[RunRecord],
    factors: list[str],
    levels: dict[str, list[str]],
    best: RunRecord | None,
    figures: dict[str, list[Path]],
) -> list[Path]:
    from chainrule.reporting.report import (
        Code,
        Figure,
        Heading,
        Paragraph,
        Table,
        format_duration,
        render_html,
        render_markdown,
    )

    metric = result.metric

    def figure(stem: str, caption: str) -> Figure | None:
        paths = figures.get(stem)
        if not paths:
            return None
        relative = [os.path.relpath(path, out_dir).replace(os.sep, "/") for path in paths]
        svg = next((p for p in relative if p.endswith(".svg")), None)
        return Figure(relative[0], caption, svg)

    counts = {status: sum(r.status == status for r in records) for status in _STATUS_ORDER}
    total_seconds = sum(r.seconds or 0.0 for r in records)
    blocks: list[Any] = []
    if description:
        blocks.append(Paragraph(description))
    summary = (
        f"{len(records)} runs over {len(factors)} factor{'s' * (len(factors) != 1)} "
        f"({', '.join(f'{f}: {len(levels.get(f, []))} levels' for f in factors)}): "
        f"{counts['finished']} finished, {counts['failed']} failed"
    )
    if counts["running"] or counts["pending"]:
        summary += f", {counts['running'] + counts['pending']} not finished yet"
    summary += f". Training time of all runs together: {format_duration(total_seconds)}."
    summary += f" Runs are ranked by {metric} ({'lower' if lower_is_better(metric) else 'higher'}"
    summary += " is better)."
    blocks += [Heading("Summary"), Paragraph(summary)]

    if best is not None:
        blocks.append(Heading("Best configuration"))
        rows = [(factor, best.factors.get(factor, "")) for factor in factors]
        rows += [
            (column, _cell(column, best.metric(column)))
            for column in result.headers[len(factors) + 3 :]
            if best.metric(column) is not None
        ]
        run_report = sweep_dir / best.directory / "report.html"
        text = f"Run {best.name}"
        if run_report.is_file():
            text += f" (its own report: {os.path.relpath(run_report, out_dir)})"
        blocks += [
            Paragraph(text + "."),
            Table(("setting", "value"), rows, (False, False)),
            Code(
                yaml.safe_dump(best.recipe, sort_keys=False).rstrip("\n"),
                summary="Its full recipe",
                language="yaml",
            ),
        ]

    # the page is narrower than a terminal: losses only when ranking by one (comparison.csv
    # and comparison.md keep every column)
    headers = [h for h in result.headers if h == metric or "loss" not in h or "loss" in metric]
    blocks.append(Heading("All runs"))
    best_index = {i for i, row in enumerate(result.rows) if result.best and row is result.best}
    blocks.append(
        Table(
            tuple(headers),
            [tuple(_cell(h, row[h]) for h in headers) for row in result.rows],
            tuple(_numeric(h) for h in headers),
            frozenset(best_index),
        )
    )

    effects = _factor_values(records, factors, levels, metric)
    blocks.append(Heading(f"Effect of each factor on {metric}"))
    for factor in factors:
        rows = []
        for level, values in effects[factor].items():
            if values:
                rows.append(
                    (
                        level,
                        str(len(values)),
                        _cell(metric, statistics.fmean(values)),
                        _cell(metric, min(values)),
                        _cell(metric, max(values)),
                    )
                )
            else:
                rows.append((level, "0", "", "", ""))
        blocks += [
            Heading(factor, level=3),
            Table(("level", "runs", "mean", "min", "max"), rows, (False, True, True, True, True)),
        ]
    effect_figure = figure(
        "factor-effects",
        f"Final {metric} of every finished run, grouped by each factor's level (box: median "
        "and quartiles over the other factors' levels; bars where each level is one run).",
    )
    if effect_figure:
        blocks.append(effect_figure)

    curve_figures = [
        figure(
            f"curves-by-{_slug(factor)}",
            f"Every run's curve per epoch, one colour per {factor} level.",
        )
        for factor in result.by
    ]
    curve_figures = [f for f in curve_figures if f]
    if curve_figures:
        blocks += [Heading("Curves"), *curve_figures]
    sheet = figure(
        "small-multiples",
        "One panel per run in grid order: training (solid blue) and validation (orange) per "
        "epoch, with the run's final metric in its title.",
    )
    if sheet:
        blocks += [Heading("Every run"), sheet]

    failed = [r for r in records if r.status == "failed"]
    if failed:
        blocks.append(Heading("Failed runs"))
        for record in failed:
            blocks += [
                Paragraph(f"{record.name}: {record.error}"),
                Code((record.traceback or "").rstrip("\n"), summary="Traceback"),
            ]
    if grid_text:
        blocks += [
            Heading("Grid"),
            Code(grid_text.rstrip("\n"), summary="The grid file", language="yaml"),
        ]

    title = f"Sweep {name}"
    return [
        atomic_write_text(out_dir / "report.md", render_markdown(title, blocks)),
        atomic_write_text(out_dir / "report.html", render_html(title, blocks)),
    ]
