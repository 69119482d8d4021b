"""A self-contained HTML page for a :class:`~.document.Document`, or a fragment of one.

One file with everything inline, nothing from the network, so a run directory can be zipped
and opened anywhere. Every string is escaped with ``html.escape``; image paths are URL-quoted
(a ``data:`` URI is kept as it is). An aligned equation group is a table whose columns line
up left-hand sides, relations, right-hand sides, shapes and notes.

Math is written twice in one element: its plain Unicode form as the text (``δ₂ W₂ᵀ``, read by
any browser, search and screen reader) and its TeX in ``data-tex``. A page that shows math
inlines KaTeX (``static/katex``: 0.19.1, MIT; its script, CSS and woff2 fonts as data URIs,
about 0.65 MB), which typesets every ``data-tex`` in place when the page opens — offline, from
disk, with no second file to lose. A page without math (a run report) carries none of it.

``fragment=True`` gives what Jupyter's ``_repr_html_`` shows: one ``<div>`` with a few scoped
styles, headings two levels down (a document's title is an ``<h3>`` in a notebook), and no
script — the math stays in its Unicode form there, which every notebook front end shows.
"""

from __future__ import annotations

import base64
import html
import re
from functools import cache
from importlib.resources import files
from urllib.parse import quote

from chainrule.reporting.document import (
    Block,
    Code,
    Content,
    Document,
    Equation,
    Equations,
    Figure,
    Heading,
    Inline,
    Math,
    Paragraph,
    Table,
    inline,
    plain_text,
)
from chainrule.utils.markup import fragment as html_fragment
from chainrule.utils.markup import html_table

__all__ = ["CSS", "MATH_CSS", "katex_assets", "to_html"]

CSS = """
body { max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #eee; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .92rem; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bold td { font-weight: bold; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: .8rem; overflow-x: auto;
      font-size: .85rem; line-height: 1.35; }
details summary { cursor: pointer; color: #0366d6; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9rem; }
footer { margin-top: 3rem; color: #888; font-size: .8rem; }
""".strip()

#: Added only to pages that show math, so a run report's page stays as it was.
MATH_CSS = """
.math { font-family: "Cambria Math", "STIX Two Math", "Latin Modern Math", serif;
        font-style: italic; }
table.equations td { border: none; padding: .1rem .4rem; }
table.equations td.rel { text-align: center; }
table.equations td.shape, table.equations td.note { color: #555; font-size: .9rem; }
p.equation { margin: .5rem 0 .5rem 2rem; }
.katex { font-size: 1.08em; font-style: normal; }
""".strip()

#: Typesets every ``data-tex`` element once KaTeX has loaded; a formula KaTeX cannot parse
#: keeps its Unicode form (``throwOnError: false`` would show red TeX instead).
_TYPESET = """
document.querySelectorAll(".math[data-tex]").forEach(function (el) {
  try {
    katex.render(el.getAttribute("data-tex"), el,
                 {displayMode: el.classList.contains("display"), throwOnError: true});
  } catch (error) { el.title = String(error); }
});
""".strip()

_FONT_URL = re.compile(r"src:url\(fonts/(KaTeX_[A-Za-z0-9_-]+)\.woff2\) format\(\"woff2\"\)[^;}]*")

_esc = html.escape


def to_html(document: Document, fragment: bool = False) -> str:
    """``document`` as a complete HTML page (``<!DOCTYPE html>`` to ``</html>``), or with
    ``fragment`` as one ``<div>`` to place in another page (Jupyter's ``_repr_html_``)."""
    shift = 2 if fragment else 0
    body = [_heading(document.title, 1 + shift)] if document.title else []
    body += [_block(block, shift) for block in document.blocks]
    if fragment:
        return html_fragment("\n".join(body))
    if document.origin:
        body.append(f"<footer>{_esc(document.origin)}</footer>")
    math = _has_math(document)
    css = CSS + ("\n" + MATH_CSS if math else "")
    script = ""
    if math:
        katex_css, katex_js = katex_assets()
        css += "\n" + katex_css
        script = f"<script>\n{katex_js}\n</script>\n<script>\n{_TYPESET}\n</script>\n"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(document.title)}</title>\n<style>\n{css}\n</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n" + script + "</body>\n</html>\n"
    )


@cache
def katex_assets() -> tuple[str, str]:
    """KaTeX's CSS, its fonts inlined as woff2 data URIs, and its script, read once from the
    package (``chainrule/reporting/static/katex``)."""
    folder = files("chainrule.reporting") / "static" / "katex"

    def font(match: re.Match[str]) -> str:
        data = (folder / "fonts" / f"{match.group(1)}.woff2").read_bytes()
        encoded = base64.b64encode(data).decode("ascii")
        return f'src:url(data:font/woff2;base64,{encoded}) format("woff2")'

    css = _FONT_URL.sub(font, (folder / "katex.min.css").read_text(encoding="utf-8"))
    # a script's text ends at the first "</script": KaTeX's "</" are all inside strings,
    # where "<\/" means the same
    script = (folder / "katex.min.js").read_text(encoding="utf-8").replace("</", "<\\/")
    return css, script


def _heading(content: Content, level: int) -> str:
    if level > 6:  # below h6 (a run-in heading in a fragment): a bold line
        return f"<p><strong>{_inline(inline(content))}</strong></p>"
    return f"<h{level}>{_inline(inline(content))}</h{level}>"


def _has_math(document: Document) -> bool:
    def any_math(content: tuple[Inline, ...]) -> bool:
        return any(isinstance(piece, Math) for piece in content)

    for block in document.blocks:
        if isinstance(block, Equations):
            return True
        if isinstance(block, Paragraph | Heading) and any_math(
            block.content if isinstance(block, Paragraph) else block.text
        ):
            return True
        if isinstance(block, Table) and any(
            any_math(cell) for row in (block.header, *block.rows) for cell in row
        ):
            return True
    return False


def _block(block: Block, shift: int = 0) -> str:
    if isinstance(block, Heading):
        return _heading(block.text, block.level + shift)
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.content)}</p>"
    if isinstance(block, Equations):
        return _aligned(block.rows) if block.aligned else "\n".join(map(_displayed, block.rows))
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Code):
        pre = f"<pre><code>{_esc(block.text)}</code></pre>"
        if block.summary:
            pre = f"<details>\n<summary>{_esc(block.summary)}</summary>\n{pre}\n</details>"
        return pre
    if isinstance(block, Figure):
        caption = _inline(block.caption)
        if block.svg_path:
            caption += f' (<a href="{_esc(_url(block.svg_path))}">SVG</a>)'
        return (
            f'<figure>\n<img src="{_esc(_url(block.path))}" alt="{_esc(plain_text(block.caption))}">\n'
            f"<figcaption>{caption}</figcaption>\n</figure>"
        )
    raise TypeError(f"no HTML form for {type(block).__name__}")


def _inline(content: tuple[Inline, ...]) -> str:
    pieces = []
    for piece in content:
        if isinstance(piece, str):
            pieces.append(_esc(piece))
        elif isinstance(piece, Math):
            pieces.append(_math(piece))
        else:
            pieces.append(f"<code>{_esc(piece.text)}</code>")
    return "".join(pieces)


def _url(path: str) -> str:
    """A relative path URL-quoted; an image already inline (``data:``) as it is."""
    return path if path.startswith("data:") else quote(path)


def _math_span(tex: str, text: str, display: bool = False) -> str:
    kind = "math display" if display else "math"
    return f'<span class="{kind}" data-tex="{_esc(tex)}">{_esc(text)}</span>'


def _math(math: Math) -> str:
    return _math_span(math.tex, math.plain)


def _sides(row: Equation) -> tuple[str, str]:
    """The right-hand sides joined by ``=``, as TeX and as plain text."""
    return " = ".join(side.tex for side in row.rhs), " = ".join(side.plain for side in row.rhs)


def _shape(row: Equation) -> str:
    return "×".join(map(str, row.shape)) if row.shape else "1"


def _displayed(row: Equation) -> str:
    tex, text = row.lhs.tex, row.lhs.plain
    if row.rel is not None:
        tex_sides, text_sides = _sides(row)
        tex += f" {row.rel.tex} {tex_sides}"
        text += f" {row.rel.plain} {text_sides}"
    extra = f" ({_esc(_shape(row))})" if row.shape is not None else ""
    note = f" — {_inline(row.note)}" if row.note else ""
    return f'<p class="equation">{_math_span(tex, text, display=True)}{extra}{note}</p>'


def _aligned(rows: tuple[Equation, ...]) -> str:
    lines = ['<table class="equations">']
    for row in rows:
        rel = _math(row.rel) if row.rel is not None else ""
        rhs = _math_span(*_sides(row)) if row.rhs else ""
        shape = _esc(_shape(row)) if row.shape is not None else ""
        lines.append(
            f'<tr><td>{_math(row.lhs)}</td><td class="rel">{rel}</td><td>{rhs}</td>'
            f'<td class="shape">{shape}</td><td class="note">{_inline(row.note)}</td></tr>'
        )
    lines.append("</table>")
    return "\n".join(lines)


def _table(block: Table) -> str:
    cells = [[_inline(cell) for cell in row] for row in block.rows]
    return html_table(
        [_inline(cell) for cell in block.header],
        cells,
        block.align,
        _inline(block.caption),
        block.bold_rows,
    )
