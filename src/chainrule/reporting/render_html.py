"""A self-contained HTML page for a :class:`~.document.Document`.

One file with its CSS inline: no JavaScript, no fonts or scripts from the network, so a run
directory can be zipped and opened anywhere. Every string is escaped with ``html.escape``;
image paths are URL-quoted. Math is shown in its plain Unicode form (``δ₂ W₂ᵀ``) in a serif
italic, since typesetting TeX would need a script; an aligned equation group is a table whose
columns line up left-hand sides, relations, right-hand sides, shapes and notes.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from chainrule.reporting.document import (
    Block,
    Code,
    Document,
    Equation,
    Equations,
    Figure,
    Heading,
    Inline,
    Math,
    Paragraph,
    Table,
    plain_text,
)

__all__ = ["CSS", "to_html"]

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
""".strip()

_esc = html.escape


def to_html(document: Document) -> str:
    """``document`` as a complete HTML page (``<!DOCTYPE html>`` to ``</html>``)."""
    body = [f"<h1>{_esc(document.title)}</h1>"] if document.title else []
    body += [_block(block) for block in document.blocks]
    if document.origin:
        body.append(f"<footer>{_esc(document.origin)}</footer>")
    css = CSS + ("\n" + MATH_CSS if _has_math(document) else "")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(document.title)}</title>\n<style>\n{css}\n</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


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


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        level = min(block.level, 6)
        return f"<h{level}>{_inline(block.text)}</h{level}>"
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
            caption += f' (<a href="{_esc(quote(block.svg_path))}">SVG</a>)'
        return (
            f'<figure>\n<img src="{_esc(quote(block.path))}" alt="{_esc(plain_text(block.caption))}">\n'
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


def _math(math: Math) -> str:
    return f'<span class="math">{_esc(math.plain)}</span>'


def _shape(row: Equation) -> str:
    return "×".join(map(str, row.shape)) if row.shape else "1"


def _displayed(row: Equation) -> str:
    text = row.lhs.plain
    if row.rel is not None:
        text += f" {row.rel.plain} " + " = ".join(side.plain for side in row.rhs)
    extra = f" ({_esc(_shape(row))})" if row.shape is not None else ""
    note = f" — {_inline(row.note)}" if row.note else ""
    return f'<p class="equation"><span class="math">{_esc(text)}</span>{extra}{note}</p>'


def _aligned(rows: tuple[Equation, ...]) -> str:
    lines = ['<table class="equations">']
    for row in rows:
        rel = _math(row.rel) if row.rel is not None else ""
        rhs = f'<span class="math">{_esc(" = ".join(side.plain for side in row.rhs))}</span>'
        shape = _esc(_shape(row)) if row.shape is not None else ""
        lines.append(
            f'<tr><td>{_math(row.lhs)}</td><td class="rel">{rel}</td><td>{rhs}</td>'
            f'<td class="shape">{shape}</td><td class="note">{_inline(row.note)}</td></tr>'
        )
    lines.append("</table>")
    return "\n".join(lines)


def _table(block: Table) -> str:
    align = [' class="num"' if a == "r" else ' style="text-align:center"' if a == "c" else ""
             for a in block.align]  # fmt: skip
    lines = ["<table>"]
    if block.caption:
        lines.append(f"<caption>{_inline(block.caption)}</caption>")
    lines.append("<thead><tr>")
    lines += [f"<th{a}>{_inline(h)}</th>" for a, h in zip(align, block.header, strict=True)]
    lines.append("</tr></thead>\n<tbody>")
    for index, row in enumerate(block.rows):
        row_class = ' class="bold"' if index in block.bold_rows else ""
        cells = "".join(f"<td{a}>{_inline(c)}</td>" for a, c in zip(align, row, strict=True))
        lines.append(f"<tr{row_class}>{cells}</tr>")
    lines.append("</tbody>\n</table>")
    return "\n".join(lines)
