"""Class labels: checked once at the boundary, and turned into one-hot rows.

A classification target is either integer class labels (n,) or one-hot rows (n, k): row i
has a 1 at column ``labels[i]`` — the probability distribution that puts all its mass on the
true class, which is what softmax + cross-entropy and MSE compare the output against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.utils.validation import check_integer


def check_labels(
    labels: Any, num_classes: int, count: int | None = None, where: str = "labels"
) -> np.ndarray:
    """Integer class labels as an int64 array, or an error that says what is wrong.

    Whole-number floats (as read from CSV files) are accepted; fractions, and labels outside
    ``[0, num_classes)``, are a ValueError naming the first bad one and its position.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"{where}: class labels must have shape (n,), got shape {y.shape}")
    if count is not None and y.shape[0] != count:
        raise ValueError(f"{where}: got {y.shape[0]} labels for {count} examples")
    num_classes = check_integer(num_classes, "num_classes", where=where)
    if y.dtype.kind not in "iu":
        whole = y.dtype.kind in "fb" and np.all(np.isfinite(y)) and np.all(y == np.round(y))
        if not whole:
            raise ValueError(
                f"{where}: class labels must be integers, got dtype {y.dtype}"
                + (" with fractions" if y.dtype.kind == "f" else "")
                + "; pass integer labels or one-hot rows"
            )
    y = y.astype(np.int64, copy=False)
    if y.size == 0 or (y.min() >= 0 and y.max() < num_classes):  # the common case, 2 passes
        return y
    outside = np.flatnonzero((y < 0) | (y >= num_classes))
    if outside.size:
        first = outside[0]
        raise ValueError(
            f"{where}: label {y[first]} is outside the class range 0..{num_classes - 1} "
            f"(at index {first}; {outside.size} label(s) outside, {num_classes} classes)"
        )
    return y


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """Integer labels (n,) -> one-hot rows (n, num_classes); labels are checked first."""
    y = check_labels(labels, num_classes, where="one_hot")
    encoded = np.zeros((y.shape[0], num_classes), dtype=dtype)
    encoded[np.arange(y.shape[0]), y] = 1
    return encoded
