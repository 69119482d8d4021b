"""HTML for rich display below the reporting floor: one table writer and one small line chart.

Jupyter shows an object's ``_repr_html_``. The document model and its renderers live on the
reporting floor, which the engine (``nn``) and the trainer (``training``) may not import, so
the two pieces of HTML they need live here, and the reporting floor's HTML renderer builds its
tables with the same :func:`html_table`:

* :func:`html_table` — a table whose cells are HTML already (escape plain text with
  :func:`html.escape` first); ``align`` has one letter per column (``l``, ``r``, ``c``).
* :func:`line_chart_svg` — lines over epochs as one self-contained SVG, drawn without
  matplotlib (importing it costs about half a second, too much for showing a model's history);
  the run's figures are still drawn by ``chainrule.reporting.figures``.
* :func:`svg_image` — an SVG as an ``<img>`` with a data URI, so a notebook keeps it inline.
* :func:`fragment` — HTML as one ``<div>`` with a few styles scoped to it, as a notebook
  output should be (a page's own styles would restyle the notebook around it).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence

__all__ = ["FRAGMENT_CSS", "fragment", "html_table", "line_chart_svg", "svg_image"]

_ALIGN = {"l": "", "r": ' class="num"', "c": ' style="text-align:center"'}

#: A fragment's styles, scoped to its ``div`` so that a notebook's own page is left alone.
#: The class is doubled in the alignment rules: JupyterLab (and nbconvert's HTML) right-align
#: every cell with ``:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td``, which outranks a
#: single class and an element.
FRAGMENT_CSS = """
.chainrule-display.chainrule-display th, .chainrule-display.chainrule-display td {
    text-align: left; }
.chainrule-display.chainrule-display td.num, .chainrule-display.chainrule-display th.num {
    text-align: right; font-variant-numeric: tabular-nums; }
.chainrule-display tr.bold td { font-weight: bold; }
.chainrule-display .math { font-family: "Cambria Math", "STIX Two Math", serif; font-style: italic; }
.chainrule-display table.equations td { border: none; text-align: left; }
.chainrule-display figure img { max-width: 100%; height: auto; }
.chainrule-display figcaption { color: #555; font-size: .9em; }
""".strip()

#: Line colours: matplotlib's first two (training blue, validation orange), then more.
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    align: str = "",
    caption: str = "",
    bold_rows: frozenset[int] | set[int] = frozenset(),
) -> str:
    """A ``<table>`` of HTML cells: ``header`` and each row have one cell per column; ``align``
    one letter per column (default all ``l``); ``bold_rows`` are row indices set in bold."""
    align = align or "l" * len(header)
    if len(align) != len(header) or set(align) - set(_ALIGN):
        raise ValueError(
            f"align must be one letter l, r or c per column ({len(header)}), got {align!r}"
        )
    attributes = [_ALIGN[letter] for letter in align]
    lines = ["<table>"]
    if caption:
        lines.append(f"<caption>{caption}</caption>")
    lines.append("<thead><tr>")
    lines += [f"<th{a}>{cell}</th>" for a, cell in zip(attributes, header, strict=True)]
    lines.append("</tr></thead>\n<tbody>")
    for index, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"row {index + 1} has {len(row)} cells, the header {len(header)}")
        row_class = ' class="bold"' if index in bold_rows else ""
        cells = "".join(f"<td{a}>{cell}</td>" for a, cell in zip(attributes, row, strict=True))
        lines.append(f"<tr{row_class}>{cells}</tr>")
    lines.append("</tbody>\n</table>")
    return "\n".join(lines)


def fragment(body: str) -> str:
    """HTML ``body`` as what Jupyter's ``_repr_html_`` shows: one ``div`` with scoped styles."""
    return f'<div class="chainrule-display">\n<style>\n{FRAGMENT_CSS}\n</style>\n{body}\n</div>'


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About ``count`` round values from ``low`` to ``high`` (1, 2 or 5 times a power of 10)."""
    if not high > low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _number(value: float) -> str:
    return f"{value:.4g}"


def line_chart_svg(
    x: Sequence[float],
    series: dict[str, Sequence[float | None]],
    title: str,
    *,
    width: int = 360,
    height: int = 220,
) -> str:
    """An SVG chart of each named series over ``x`` (None and non-finite values are left
    out), with round ticks on both axes, the title and a legend row above the plot."""
    left, right, top, bottom = 52, 12, 42, 34
    points = {
        name: [(float(a), float(b)) for a, b in zip(x, values, strict=True)
               if b is not None and math.isfinite(b)]
        for name, values in series.items()
    }  # fmt: skip
    points = {name: pts for name, pts in points.items() if pts}
    xs = [float(a) for a in x] or [0.0]
    ys = [b for pts in points.values() for _, b in pts] or [0.0]
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = min(ys), max(ys)
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    pad = (y_high - y_low) * 0.05 or abs(y_low) * 0.1 or 1.0  # points clear of the frame
    y_low, y_high = y_low - pad, y_high + pad
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(a: float) -> float:
        return left + (a - x_low) / (x_high - x_low) * plot_w

    def py(b: float) -> float:
        return top + (y_high - b) / (y_high - y_low) * plot_h

    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left + plot_w / 2:.1f}" y="16" text-anchor="middle" font-size="13">'
        f"{esc(title)}</text>",
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#999"/>',
    ]
    for tick in _ticks(y_low, y_high):
        y = py(tick)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_number(tick)}</text>'
        )
    x_ticks = [t for t in _ticks(x_low, x_high) if float(t).is_integer()] or [x_low]
    for tick in x_ticks:
        parts.append(
            f'<text x="{px(tick):.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
            f"{_number(tick)}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">epoch</text>'
    )
    for index, (name, pts) in enumerate(points.items()):
        color = COLORS[index % len(COLORS)]
        coords = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in pts)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts += [
            f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="2.5" fill="{color}"/>' for a, b in pts
        ]
        x = left + 96 * index  # the legend: one row between the title and the plot
        parts.append(
            f'<line x1="{x}" y1="{top - 10}" x2="{x + 16}" y2="{top - 10}" stroke="{color}" '
            f'stroke-width="2"/><text x="{x + 20}" y="{top - 6}">{esc(name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def svg_image(svg: str, alt: str) -> str:
    """``svg`` as an ``<img>`` whose source is a base64 data URI (a notebook keeps it inline,
    and an SVG in an ``<img>`` runs no script)."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{data}" alt="{html.escape(alt)}">'
