"""Rows of a batch cut into slices: the one place that decides where a batch is cut.

Batches are rows (``x`` has shape ``(m, ...)``), so every cut is a ``slice`` of rows and
``x[rows]`` is a view, never a copy. Two ways to cut:

- ``chunk_rows(m, chunk)``: consecutive slices of ``chunk`` rows, the last one shorter
  (training batches, inference chunks, chunked statistics and augmentation);
- ``split_rows(m, parts)``: at most ``parts`` slices of near-equal size (one part per thread,
  or the fewest equal chunks under a memory bound).

Both cover every row exactly once, in order.
"""

from __future__ import annotations

import itertools

from chainrule.utils.validation import check_integer


def chunk_rows(rows: int, chunk: int) -> list[slice]:
    """``rows`` rows in consecutive slices of ``chunk`` rows (the last one may be shorter).

    >>> chunk_rows(10, 4)
    [slice(0, 4, None), slice(4, 8, None), slice(8, 10, None)]
    """
    chunk = check_integer(chunk, "chunk (rows per slice)")
    return [slice(start, min(start + chunk, rows)) for start in range(0, rows, chunk)]


def split_rows(rows: int, parts: int) -> list[slice]:
    """``rows`` rows cut into at most ``parts`` contiguous slices whose sizes differ by at most
    one, the larger first (as ``np.array_split`` does). Never more slices than rows, and
    always at least one (``slice(0, 0)`` for no rows).

    >>> split_rows(7, 2)
    [slice(0, 4, None), slice(4, 7, None)]
    """
    parts = max(1, min(check_integer(parts, "parts (slices to cut)"), rows))
    size, larger = divmod(rows, parts)
    bounds = [k * size + min(k, larger) for k in range(parts + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]
