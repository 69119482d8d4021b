"""HTML below the reporting floor: a table of HTML cells, a line chart as SVG, a fragment."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import pytest

from chainrule.utils.markup import fragment, html_table, line_chart_svg, svg_image


def test_a_table_aligns_and_bolds_what_it_is_told(html_text):
    table = html_table(("name", "count"), [("a &amp; b", "1"), ("c", "2")], "lr", "Caps", {1})
    assert html_text(table) == "Caps name count a & b 1 c 2"
    assert "<caption>Caps</caption>" in table and '<th class="num">count</th>' in table
    assert '<tr class="bold"><td>c</td><td class="num">2</td></tr>' in table
    assert '<tr><td>a &amp; b</td><td class="num">1</td></tr>' in table


def test_a_table_with_a_wrong_shape_or_alignment_says_so():
    with pytest.raises(ValueError, match=r"row 2 has 1 cells, the header 2"):
        html_table(("a", "b"), [("1", "2"), ("3",)])
    with pytest.raises(ValueError, match=r"align must be one letter l, r or c per column \(2\)"):
        html_table(("a", "b"), [], align="lx")


def chart_points(svg: str) -> list[list[tuple[float, float]]]:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    return [
        [tuple(map(float, pair.split(","))) for pair in line.get("points").split()]
        for line in root.iter("{http://www.w3.org/2000/svg}polyline")
    ]


def test_a_chart_draws_each_series_in_order_and_skips_missing_values():
    svg = line_chart_svg(
        [1, 2, 3, 4],
        {"training": [1.0, 0.5, 0.25, 0.2], "validation": [None, 0.6, 0.4, None]},
        "loss",
    )
    training, validation = chart_points(svg)
    assert len(training) == 4 and len(validation) == 2  # None is left out, not drawn at 0
    xs = [x for x, _ in training]
    assert xs == sorted(xs) and len(set(xs)) == 4  # epochs left to right
    ys = [y for _, y in training]
    assert ys == sorted(ys)  # a falling loss is drawn going down (SVG's y grows downwards)
    assert validation[0][0] == training[1][0]  # the same epoch at the same x
    assert ">loss</text>" in svg and ">training</text>" in svg and ">validation</text>" in svg


def test_a_chart_of_one_epoch_or_a_flat_line_still_has_a_scale():
    flat = chart_points(line_chart_svg([1], {"training": [0.5]}, "loss"))
    assert len(flat) == 1 and len(flat[0]) == 1
    ticks = re.findall(r'text-anchor="end">([^<]+)<', line_chart_svg([1, 2], {"a": [3, 3]}, "x"))
    assert len(ticks) >= 2


def test_an_svg_becomes_an_inline_image_and_a_fragment_scopes_its_styles(html_text):
    svg = line_chart_svg([1, 2], {"training": [1.0, 0.5]}, "loss")
    image = svg_image(svg, 'loss "curve"')
    data = re.fullmatch(r'<img src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]*)">', image)
    assert data and base64.b64decode(data.group(1)).decode() == svg
    assert data.group(2) == "loss &quot;curve&quot;"
    div = fragment("<p>hello</p>")
    assert html_text(div).endswith("hello")
    assert div.startswith('<div class="chainrule-display">')
    # every style rule applies inside the fragment only
    styles = re.search(r"<style>\n(.*)\n</style>", div, re.S).group(1)
    selectors = re.findall(r"(?:^|\})\s*([^{}]+)\{", styles)
    assert selectors and all(
        part.strip().startswith(".chainrule-display") for s in selectors for part in s.split(",")
    )
