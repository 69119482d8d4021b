"""Cutting a batch's rows: consecutive chunks of a size, or a number of near-equal parts."""

import numpy as np
import pytest

from chainrule.nn.batching import chunk_rows, split_rows


def covered(slices, rows):
    """The row numbers the slices pick, in order."""
    return np.concatenate([np.arange(rows)[s] for s in slices]) if slices else np.array([])


@pytest.mark.parametrize(
    ("rows", "chunk", "sizes"),
    [(10, 4, [4, 4, 2]), (8, 4, [4, 4]), (3, 8, [3]), (5, 1, [1] * 5), (0, 4, [])],
)
def test_chunk_rows_cuts_consecutive_chunks_the_last_one_shorter(rows, chunk, sizes):
    slices = chunk_rows(rows, chunk)
    assert [s.stop - s.start for s in slices] == sizes
    assert np.array_equal(covered(slices, rows), np.arange(rows))


def test_chunks_are_views_of_the_batch():
    x = np.arange(12.0).reshape(6, 2)
    for rows in chunk_rows(len(x), 4):
        assert np.shares_memory(x[rows], x)


@pytest.mark.parametrize(
    ("m", "parts", "sizes"),
    [(64, 2, [32, 32]), (7, 2, [4, 3]), (10, 3, [4, 3, 3]), (1, 2, [1]), (3, 8, [1, 1, 1])],
)
def test_split_rows_covers_every_row_once_in_near_equal_parts(m, parts, sizes):
    slices = split_rows(m, parts)
    assert [s.stop - s.start for s in slices] == sizes
    assert np.array_equal(covered(slices, m), np.arange(m))


def test_split_rows_matches_numpy_array_split():
    for m, parts in [(17, 4), (9, 9), (100, 7)]:
        expected = [len(part) for part in np.array_split(np.arange(m), parts)]
        assert [s.stop - s.start for s in split_rows(m, parts)] == expected


def test_no_rows_split_into_one_empty_part():
    assert split_rows(0, 3) == [slice(0, 0)]


CHUNK, PARTS = "chunk (rows per slice)", "parts (slices to cut)"


@pytest.mark.parametrize(
    ("cut", "argument", "bad"),
    [(chunk_rows, CHUNK, 0), (chunk_rows, CHUNK, 2.5), (chunk_rows, CHUNK, True),
     (split_rows, PARTS, 0), (split_rows, PARTS, -1), (split_rows, PARTS, "2")],
)  # fmt: skip
def test_a_bad_size_is_named(cut, argument, bad):
    """The message names the argument, what it means, the rule and the value."""
    with pytest.raises(ValueError) as error:
        cut(10, bad)
    assert str(error.value) == f"{argument} must be an integer >= 1, got {bad!r}"


def test_numpy_integers_are_sizes_too():
    assert chunk_rows(5, np.int64(2)) == chunk_rows(5, 2)
    assert split_rows(5, np.int32(2)) == split_rows(5, 2)
