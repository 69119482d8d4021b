"""Your own data as a table: a CSV file of points, or NumPy arrays in an ``.npz`` file.

**CSV.** A header line is required; one column holds the labels (``label`` unless told
otherwise), every other column is a feature, read as a finite number::

    x1,x2,label
    0.5,-1.2,red
    1.0,0.3,blue

**NPZ.** ``x_train`` and ``y_train``, optionally ``x_test`` and ``y_test`` (both or neither)
and ``class_names``; saved with ``np.savez(path, x_train=..., y_train=...)``. ``x`` is a table
(n, features) of numbers, or grey images (n, h, w) or (n, 1, h, w) of uint8 pixels, which
then go through the image pipeline (scaling by 255, image figures) like MNIST.

**Labels** are integers or strings (in a CSV, a column whose every value reads as an integer
holds integers). The classes are the distinct labels, sorted (numerically for integers, else
alphabetically), so labels 0..k-1 stay themselves and ``red``/``blue`` become classes
``blue`` = 0, ``red`` = 1; a test split's labels are read with the training split's classes,
and one the training split does not have is an error naming it.

Every bad value is a ``ValueError`` naming the file and where: a CSV's line and column (with
its header name), an NPZ's array and shape.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "NPZ_ARRAYS",
    "Table",
    "encode_labels",
    "load_csv",
    "load_npz",
    "parse_csv",
    "parse_csv_features",
    "read_csv_text",
]

#: The arrays an ``.npz`` dataset may hold.
NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test", "class_names")

#: A bound on a CSV read into memory (a user's points, not a data lake): 200 MB.
MAX_CSV_BYTES = 200 * 1024 * 1024


@dataclass
class Table:
    """Points read from a CSV file: features float64 (n, d), labels int64 (n,), and names."""

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


def _label_key(label: str | int) -> tuple[int, int | str]:
    # Integers before strings, each in its own order (a mix only arises from a test split).
    return (0, label) if isinstance(label, int) else (1, label)


def encode_labels(
    values: Sequence[str | int] | np.ndarray,
    where: Sequence[str],
    class_names: Sequence[str] | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels (ints or strings) → class indices int64 and the class names.

    With ``class_names`` (a training split's), each label must be one of them (compared as
    text: label 3 is class "3"); otherwise the classes are the sorted distinct labels.
    ``where[i]`` says where label ``i`` came from, for the error about a label the classes
    lack (``"points.csv: line 7"``).
    """
    labels = [value.item() if isinstance(value, np.generic) else value for value in values]
    if class_names is None:
        distinct = sorted(set(labels), key=_label_key)
        class_names = tuple(str(label) for label in distinct)
    index = {name: position for position, name in enumerate(class_names)}
    encoded = np.empty(len(labels), dtype=np.int64)
    for position, label in enumerate(labels):
        found = index.get(str(label))
        if found is None:
            shown = ", ".join(class_names[:10]) + (", ..." if len(class_names) > 10 else "")
            raise ValueError(
                f"{where[position]}: label {label!r} is not one of the training data's classes "
                f"({shown})"
            )
        encoded[position] = found
    return encoded, tuple(class_names)


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _as_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _read_rows(text: str, source: str) -> tuple[list[str], int, list[list[str]], list[int]]:
    """The header (stripped), its line, and every non-blank row with its line number."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if header is None:
                header, header_line = [cell.strip() for cell in row], reader.line_num
                continue
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as error:
        raise ValueError(f"{source}: line {reader.line_num}: not valid CSV ({error})") from None
    if header is None:
        raise ValueError(
            f"{source}: the file is empty; expected a header line, then one point a line"
        )
    _check_header(header, header_line, source)
    if not rows:
        raise ValueError(f"{source}: the header is the only line; add one point a line")
    for row, line in zip(rows, lines, strict=True):
        if len(row) != len(header):
            raise ValueError(
                f"{source}: line {line} has {len(row)} value(s) but the header has "
                f"{len(header)} columns ({', '.join(header)})"
            )
    return header, header_line, rows, lines


def _numbers(
    rows: list[list[str]], lines: list[int], header: list[str], columns: list[int], source: str
) -> np.ndarray:
    """The ``columns`` of every row as float64 (n, len(columns)); a cell that is not a finite
    number is an error naming its line, column number and column name."""
    x = np.empty((len(rows), len(columns)), dtype=np.float64)
    for position, (row, line) in enumerate(zip(rows, lines, strict=True)):
        for target, column in enumerate(columns):
            cell = row[column].strip()
            try:
                value = float(cell)
            except ValueError:
                value = float("nan")
            if not np.isfinite(value):
                shown = repr(cell) if cell else "an empty value"
                raise ValueError(
                    f"{source}: line {line}, column {column + 1} ({header[column]!r}): {shown} "
                    "is not a finite number"
                )
            x[position, target] = value
    return x


def parse_csv(
    text: str,
    source: str = "<csv>",
    label_column: str = "label",
    class_names: Sequence[str] | None = None,
) -> Table:
    """Read CSV ``text`` (a header line, then one point per line) into a ``Table``.

    ``source`` names the text in errors (a file name, "the uploaded file"); ``class_names``
    (a training split's) reads a test split with the same classes. Blank lines are skipped.
    """
    header, _, rows, lines = _read_rows(text, source)
    label_at = _label_position(header, source, label_column)
    if len(header) < 2:
        raise ValueError(
            f"{source}: the header has only the label column {label_column!r}; "
            "add at least one feature column"
        )
    feature_columns = [column for column in range(len(header)) if column != label_at]
    x = _numbers(rows, lines, header, feature_columns, source)
    labels: list[str | int] = []
    for row, line in zip(rows, lines, strict=True):
        label = row[label_at].strip()
        if not label:
            raise ValueError(
                f"{source}: line {line}, column {label_at + 1} ({label_column!r}): the label is "
                "empty"
            )
        labels.append(label)
    as_ints = [_as_int(label) for label in labels]  # type: ignore[arg-type]
    if all(value is not None for value in as_ints):
        labels = as_ints  # type: ignore[assignment]
    where = [f"{source}: line {line}" for line in lines]
    y, names = encode_labels(labels, where, class_names)
    features = tuple(header[column] for column in feature_columns)
    return Table(x=x, y=y, class_names=names, feature_names=features)


def parse_csv_features(
    text: str, source: str, feature_names: Sequence[str]
) -> tuple[np.ndarray, list[int]]:
    """The columns ``feature_names`` (in that order) of CSV ``text``, float64 (n, d), and
    each row's line number: new points to predict (other columns, a label too, are ignored)."""
    header, _, rows, lines = _read_rows(text, source)
    missing = [name for name in feature_names if name not in header]
    if missing:
        raise ValueError(
            f"{source}: no column {missing[0]!r} in the header ({', '.join(header[:10])}); the "
            f"model reads the features {', '.join(feature_names)}"
        )
    columns = [header.index(name) for name in feature_names]
    return _numbers(rows, lines, header, columns, source), lines


def _check_header(header: list[str], line: int, source: str) -> None:
    """Every column named, no name twice."""
    seen: dict[str, int] = {}
    for column, name in enumerate(header):
        if not name:
            raise ValueError(f"{source}: line {line}, column {column + 1}: the column has no name")
        if name in seen:
            raise ValueError(
                f"{source}: line {line}: column name {name!r} appears twice (columns "
                f"{seen[name] + 1} and {column + 1})"
            )
        seen[name] = column


def _label_position(header: list[str], source: str, label_column: str) -> int:
    """Where the label column is, or an error that says what the header holds instead."""
    if label_column in header:
        return header.index(label_column)
    hint = (
        "; the first line looks like numbers: a CSV dataset needs a header line naming its columns"
        if all(_looks_numeric(name) for name in header)
        else "; name the label column with --set data.label_column=NAME"
    )
    shown = ", ".join(header[:10]) + (", ..." if len(header) > 10 else "")
    raise ValueError(f"{source}: no label column {label_column!r} in the header ({shown}){hint}")


def read_csv_text(path: str | os.PathLike[str]) -> str:
    """A CSV file's text (UTF-8, a spreadsheet's byte-order mark dropped), size-checked."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise ValueError(
            f"{path}: {size:,} bytes is more than the {MAX_CSV_BYTES:,} a CSV dataset may hold; "
            "save large data as arrays in an .npz file"
        )
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path}: not UTF-8 text (byte {error.start}); save the CSV as UTF-8"
        ) from None


def load_csv(
    path: str | os.PathLike[str],
    label_column: str = "label",
    class_names: Sequence[str] | None = None,
) -> Table:
    """Read a CSV file of points (see the module docstring); errors name the file and line."""
    return parse_csv(read_csv_text(path), str(path), label_column, class_names)


# --------------------------------------------------------------------------------------------
# NPZ
# --------------------------------------------------------------------------------------------


@dataclass
class Arrays:
    """The splits of an ``.npz`` dataset, checked: x as stored, y int64, class names."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: tuple[str, ...]


def load_npz(path: str | os.PathLike[str]) -> Arrays:
    """Read an ``.npz`` dataset (see the module docstring); errors name the file and array."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NPZ file not found: {path}")
    if not zipfile.is_zipfile(path):  # else np.load would read it as a pickle, and refuse
        raise ValueError(f"{path}: not a readable .npz file (no zip archive: save with np.savez)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            unknown = [name for name in names if name not in NPZ_ARRAYS]
            if unknown:
                raise ValueError(
                    f"{path}: unknown array {unknown[0]!r}; an NPZ dataset holds "
                    f"{', '.join(NPZ_ARRAYS)}"
                )
            for required in ("x_train", "y_train"):
                if required not in names:
                    raise ValueError(
                        f"{path}: no {required!r} array (it holds {', '.join(names) or 'none'}); "
                        "save with np.savez(path, x_train=x, y_train=y)"
                    )
            if ("x_test" in names) != ("y_test" in names):
                given, missing = ("x_test", "y_test") if "x_test" in names else ("y_test", "x_test")
                raise ValueError(f"{path}: {given!r} without {missing!r}; give both or neither")
            arrays = {name: archive[name] for name in names}
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error})") from None
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise ValueError(
                f"{path}: holds Python objects (pickled), which chainrule never loads; save "
                "numbers or strings (e.g. y.astype(str))"
            ) from None
        raise
    return _check_arrays(path, arrays)


def _check_arrays(path: Path, arrays: dict[str, np.ndarray]) -> Arrays:
    x_train = _check_x(path, "x_train", arrays["x_train"])
    y_train = _check_y(path, "y_train", arrays["y_train"], len(x_train), "x_train")
    names = None
    if "class_names" in arrays:
        given = arrays["class_names"]
        if given.ndim != 1 or given.dtype.kind not in "UO" or len(given) == 0:
            raise ValueError(
                f"{path}: class_names must be a 1-D array of strings, got shape {given.shape} "
                f"{given.dtype}"
            )
        names = tuple(str(name) for name in given)
        if len(set(names)) != len(names):
            raise ValueError(f"{path}: class_names holds a name twice")
    x_test = y_test = None
    if "x_test" in arrays:
        x_test = _check_x(path, "x_test", arrays["x_test"])
        if x_test.shape[1:] != x_train.shape[1:]:
            raise ValueError(
                f"{path}: x_test has examples of shape {x_test.shape[1:]} but x_train "
                f"{x_train.shape[1:]}; they must match"
            )
        y_test = _check_y(path, "y_test", arrays["y_test"], len(x_test), "x_test")
    if names is not None:
        # Integer labels index the given names; string labels are looked up among them.
        y_train_codes = _index_labels(path, "y_train", y_train, names)
        y_test_codes = None if y_test is None else _index_labels(path, "y_test", y_test, names)
    else:
        where = [f"{path}: y_train[{i}]" for i in range(len(y_train))]
        y_train_codes, names = encode_labels(y_train, where)
        y_test_codes = None
        if y_test is not None:
            where = [f"{path}: y_test[{i}]" for i in range(len(y_test))]
            y_test_codes, _ = encode_labels(y_test, where, names)
    return Arrays(x_train, y_train_codes, x_test, y_test_codes, names)


def _index_labels(path: Path, key: str, labels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    if labels.dtype.kind in "iu":
        outside = np.flatnonzero((labels < 0) | (labels >= len(names)))
        if outside.size:
            first = int(outside[0])
            raise ValueError(
                f"{path}: {key}[{first}] = {int(labels[first])} is outside the classes "
                f"0..{len(names) - 1} that class_names gives"
            )
        return labels.astype(np.int64)
    return encode_labels(labels, [f"{path}: {key}[{i}]" for i in range(len(labels))], names)[0]


def _check_x(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    """A table (n, d) of finite numbers, or uint8 grey images (n, h, w) / (n, 1, h, w)."""
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim not in (2, 3) or len(x) == 0:
        raise ValueError(
            f"{path}: {key} has shape {x.shape}; expected a table (n, features) or grey images "
            "(n, height, width), with n >= 1"
        )
    if x.dtype.kind not in "iuf" and x.dtype != np.bool_:
        raise ValueError(f"{path}: {key} holds {x.dtype} values; expected numbers")
    if x.ndim == 3 and x.dtype != np.uint8:
        raise ValueError(
            f"{path}: {key} holds images of shape {x.shape[1:]} as {x.dtype}; images are uint8 "
            "pixels 0..255 (x.astype(np.uint8) after scaling), or flatten them to a table "
            "(n, features) for non-image data"
        )
    if x.ndim == 2:
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1)) if x.dtype.kind == "f" else []
        if len(bad):
            row = int(bad[0])
            column = int(np.flatnonzero(~np.isfinite(x[row]))[0])
            raise ValueError(
                f"{path}: {key}[{row}, {column}] is {x[row, column]}; features must be finite"
            )
        x = x.astype(np.float64)
    return x


def _check_y(path: Path, key: str, y: np.ndarray, n: int, x_key: str) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        raise ValueError(
            f"{path}: {key} has shape {y.shape} but {x_key} holds {n} example(s); expected ({n},)"
        )
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            first = int(np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))[0])
            raise ValueError(
                f"{path}: {key}[{first}] = {y[first]} is not a class label; labels are "
                "integers or strings"
            )
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iuU":
        raise ValueError(f"{path}: {key} holds {y.dtype} values; labels are integers or strings")
    return y
