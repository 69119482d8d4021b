"""Classification metrics: accuracy, top-k accuracy, confusion matrix, precision/recall/F1.

Everything here is counting, so everything is vectorized counting: the confusion matrix is one
``np.bincount`` over the pair index ``num_classes * true + predicted``, and every per-class
number is read off that matrix (row sums are support, column sums are predictions, the
diagonal is the true positives). No Python loop runs over samples.

Labels may be given as

* integer class indices, shape ``(n,)`` (floats that are whole numbers are accepted too);
* one-hot targets or a score/probability matrix, shape ``(n, num_classes)``: the label is the
  row's argmax, i.e. the class the network would predict;
* a single column ``(n, 1)`` of sigmoid probabilities from a binary model: the label is
  ``p >= 0.5`` (class 1, e.g. "is a 7") or class 0. An integer column is read as labels.

Bad input raises ``ValueError`` naming the argument, what was expected and what was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from chainrule.reporting.display import RichDisplay
from chainrule.reporting.document import Document, Heading, Paragraph, Table
from chainrule.utils.validation import check_integer

__all__ = [
    "ClassificationMetrics",
    "accuracy",
    "classification_report",
    "confusion_matrix",
    "per_class_metrics",
    "top_k_accuracy",
]


# --------------------------------------------------------------------------- input checking


def _as_labels(y: ArrayLike, name: str) -> tuple[np.ndarray, int | None]:
    """Return ``(labels, width)``: int64 class indices and the column count of a 2-D input.

    ``width`` is the number of classes a one-hot / score matrix implies (None for 1-D labels),
    so callers can check it against ``num_classes``.
    """
    array = np.asarray(y)
    if array.size == 0:
        raise ValueError(f"{name} is empty: expected at least one sample, got shape {array.shape}")
    if array.ndim == 2 and array.shape[1] == 1:
        column = array[:, 0]
        if np.issubdtype(column.dtype, np.floating):
            # one sigmoid output per sample: probability of class 1
            return (column >= 0.5).astype(np.int64), 2
        array = column
    if array.ndim == 2:
        if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
            raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
        return np.argmax(array, axis=1).astype(np.int64), array.shape[1]
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be integer labels of shape (n,) or a one-hot/score matrix of shape "
            f"(n, num_classes), got shape {array.shape}"
        )
    if array.dtype == bool:
        return array.astype(np.int64), None
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64, copy=False), None
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        if not finite.all() or not np.array_equal(array, np.round(array)):
            bad = array[~finite | (array != np.round(array))][0]
            raise ValueError(
                f"{name} must hold whole-number class labels, got {float(bad):g}; for "
                "probabilities pass a (n, num_classes) matrix (argmax is taken) or a (n, 1) "
                "sigmoid column"
            )
        return array.astype(np.int64), None
    raise ValueError(f"{name} must hold integer class labels, got dtype {array.dtype}")


def _check_range(labels: np.ndarray, name: str, num_classes: int) -> None:
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"{name} contains label {bad}, outside [0, num_classes) = [0, {num_classes}); "
            "labels must be class indices (pass a larger num_classes if the data has more classes)"
        )


def _paired_labels(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate and convert a (true, predicted) pair; infer num_classes when it is None."""
    if num_classes is not None:
        num_classes = check_integer(num_classes, "num_classes")
    true, true_width = _as_labels(y_true, "y_true")
    pred, pred_width = _as_labels(y_pred, "y_pred")
    if true.shape[0] != pred.shape[0]:
        raise ValueError(
            "y_true and y_pred must have the same number of samples, got "
            f"y_true with {true.shape[0]} and y_pred with {pred.shape[0]}"
        )
    for name, width in (("y_true", true_width), ("y_pred", pred_width)):
        if width is not None and width != 1 and num_classes is not None and width != num_classes:
            raise ValueError(
                f"{name} has {width} columns but num_classes is {num_classes}: a one-hot or "
                "score matrix needs one column per class"
            )
    if num_classes is None:
        widths = [w for w in (true_width, pred_width) if w is not None]
        num_classes = max([int(true.max()) + 1, int(pred.max()) + 1, *widths])
    _check_range(true, "y_true", num_classes)
    _check_range(pred, "y_pred", num_classes)
    return true, pred, int(num_classes)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator elementwise, with 0/0 (and x/0) defined as 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


# --------------------------------------------------------------------------- metrics


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of samples whose predicted label equals the true label, in [0, 1].

    Either argument may be one-hot or a score matrix (argmax is taken), so
    ``accuracy(Y_onehot, model_outputs)`` works directly.
    """
    true, pred, _ = _paired_labels(y_true, y_pred, None)
    return float(np.mean(true == pred))


def top_k_accuracy(y_true: ArrayLike, scores: ArrayLike, k: int) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores.

    Why it matters: on a 10-class problem a network that is 'almost right' (true class second)
    scores 0 on accuracy but 1 on top-2 accuracy, which separates confused models from lost ones.

    Counting rule, stated because frameworks differ on ties: the true class counts as in the top
    ``k`` when fewer than ``k`` classes score *strictly* higher than it. Ties therefore favour
    the true class; with no ties this equals the usual argsort definition. ``scores`` may be
    logits or probabilities (only their order matters), shape ``(n, num_classes)``.
    """
    score_matrix = np.asarray(scores)
    if score_matrix.ndim != 2 or score_matrix.shape[0] == 0:
        raise ValueError(
            f"scores must be a non-empty matrix of shape (n, num_classes), got shape "
            f"{score_matrix.shape}"
        )
    num_classes = score_matrix.shape[1]
    k = check_integer(k, "k", minimum=1, maximum=num_classes)
    true, true_width = _as_labels(y_true, "y_true")
    if true.shape[0] != score_matrix.shape[0]:
        raise ValueError(
            "y_true and scores must have the same number of samples, got "
            f"y_true with {true.shape[0]} and scores with {score_matrix.shape[0]}"
        )
    if true_width is not None and true_width != num_classes:
        raise ValueError(
            f"y_true has {true_width} columns but scores has {num_classes}: they must match"
        )
    _check_range(true, "y_true", num_classes)
    true_score = score_matrix[np.arange(true.shape[0]), true]
    rank = np.count_nonzero(score_matrix > true_score[:, None], axis=1)
    return float(np.mean(rank < k))


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
) -> np.ndarray:
    """Counts ``C[i, j]`` = samples of true class ``i`` predicted as class ``j``.

    Rows are true classes, columns predicted (scikit-learn's convention), so a row sum is the
    class's support and the diagonal holds the correct predictions. Built in one pass as
    ``bincount(num_classes * true + pred)`` reshaped to (num_classes, num_classes).

    ``num_classes`` should be given whenever a class might be absent from both arrays (a small
    test batch); when None it is inferred from the largest label or the one-hot width.
    Returns an int64 array.
    """
    true, pred, num_classes = _paired_labels(y_true, y_pred, num_classes)
    flat = np.bincount(num_classes * true + pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


@dataclass(frozen=True, repr=False)
class ClassificationMetrics(RichDisplay):
    """Per-class precision, recall, F1 and support, with their averages.

    Arrays have one entry per class, in class-index order. ``macro_*`` is the plain mean over
    classes (every class counts equally, so rare classes matter); ``weighted_*`` weights each
    class by its support (tracks overall behaviour on imbalanced data).
    """

    class_names: tuple[str, ...]
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    confusion: np.ndarray
    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float

    @property
    def total_support(self) -> int:
        return int(self.support.sum())

    def rows(self) -> list[tuple[str, float | None, float | None, float, int]]:
        """Table rows ``(label, precision, recall, f1, support)`` for a report writer.

        One row per class, then ``accuracy`` (precision and recall None: accuracy is a single
        number), ``macro avg`` and ``weighted avg`` - the same rows scikit-learn prints.
        """
        rows: list[tuple[str, float | None, float | None, float, int]] = [
            (name, float(p), float(r), float(f), int(s))
            for name, p, r, f, s in zip(
                self.class_names, self.precision, self.recall, self.f1, self.support, strict=True
            )
        ]
        total = self.total_support
        rows.append(("accuracy", None, None, self.accuracy, total))
        rows.append(("macro avg", self.macro_precision, self.macro_recall, self.macro_f1, total))
        rows.append(
            ("weighted avg", self.weighted_precision, self.weighted_recall, self.weighted_f1, total)
        )
        return rows

    def to_dict(self) -> dict[str, object]:
        """Plain Python types only, ready for ``json.dump`` into a run directory."""
        return {
            "classes": {
                name: {
                    "precision": float(p),
                    "recall": float(r),
                    "f1": float(f),
                    "support": int(s),
                }
                for name, p, r, f, s in zip(
                    self.class_names,
                    self.precision,
                    self.recall,
                    self.f1,
                    self.support,
                    strict=True,
                )
            },
            "accuracy": self.accuracy,
            "macro avg": {
                "precision": self.macro_precision,
                "recall": self.macro_recall,
                "f1": self.macro_f1,
            },
            "weighted avg": {
                "precision": self.weighted_precision,
                "recall": self.weighted_recall,
                "f1": self.weighted_f1,
            },
            "support": self.total_support,
            "confusion_matrix": self.confusion.tolist(),
        }

    def to_text(self, digits: int = 2) -> str:
        """The table scikit-learn's ``classification_report`` prints, column for column."""
        headers = ("precision", "recall", "f1-score", "support")
        label_width = max(len("weighted avg"), *(len(name) for name in self.class_names), digits)
        column_width = max(*(len(h) for h in headers), digits + 2)
        head = " " * label_width + "".join(f" {h:>{column_width}}" for h in headers)
        lines = [head, ""]

        def number(value: float | None) -> str:
            return " " * column_width if value is None else f"{value:>{column_width}.{digits}f}"

        rows = self.rows()
        num_classes = len(self.class_names)
        for index, (label, precision, recall, f1, support) in enumerate(rows):
            if index == num_classes:
                lines.append("")
            lines.append(
                f"{label:>{label_width}} {number(precision)} {number(recall)} {number(f1)} "
                f"{support:>{column_width}}"
            )
        return "\n".join(lines) + "\n"

    def to_markdown(self, digits: int = 2) -> str:
        """The same table as GitHub-flavoured Markdown, for run reports."""
        lines = [
            "| class | precision | recall | f1-score | support |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]

        def number(value: float | None) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        num_classes = len(self.class_names)
        for index, (label, precision, recall, f1, support) in enumerate(self.rows()):
            label = label.replace("|", "\\|")
            if index >= num_classes:  # summary rows: accuracy, macro avg, weighted avg
                label = f"**{label}**"
            lines.append(
                f"| {label} | {number(precision)} | {number(recall)} | {number(f1)} | {support} |"
            )
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return (
            f"ClassificationMetrics({len(self.class_names)} classes, "
            f"{self.total_support:,} samples, accuracy {self.accuracy:.4f}, "
            f"macro F1 {self.macro_f1:.4f})"
        )

    def per_class_table(self, digits: int = 4) -> Table:
        """:meth:`rows` as a document table, the three summary rows in bold."""
        rows = [
            (
                label,
                *("" if v is None else f"{v:.{digits}f}" for v in (precision, recall, f1)),
                str(n),
            )
            for label, precision, recall, f1, n in self.rows()
        ]
        return Table(
            ("class", "precision", "recall", "F1", "support"),
            rows,
            align="lrrrr",
            bold_rows=frozenset(range(len(self.class_names), len(rows))),
        )

    def confusion_table(self) -> Table:
        """The confusion matrix as a document table: a row per true class, a column per
        predicted one."""
        names = self.class_names
        rows = [
            (name, *(str(int(count)) for count in row))
            for name, row in zip(names, self.confusion, strict=True)
        ]
        return Table(("true / predicted", *names), rows, align="l" + "r" * len(names))

    def to_document(self, fmt: str = "html") -> Document:
        """The per-class table and the confusion matrix, for a notebook (``RichDisplay``)."""
        return Document(
            "Classification metrics",
            [
                Paragraph(
                    f"Accuracy {self.accuracy:.2%} over {self.total_support:,} samples; "
                    f"macro F1 {self.macro_f1:.4f}."
                ),
                self.per_class_table(),
                Heading("Confusion matrix", 3),
                Paragraph("Rows are true classes, columns predicted; the diagonal is right."),
                self.confusion_table(),
            ],
        )


def per_class_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
) -> ClassificationMetrics:
    """Precision, recall, F1 and support for each class, plus macro and weighted averages.

    For class ``c`` with confusion matrix ``C`` (rows true, columns predicted):

        TP = C[c, c]    FP = column sum - TP    FN = row sum - TP    support = row sum
        precision = TP / (TP + FP)   of the samples predicted c, how many were c
        recall    = TP / (TP + FN)   of the samples that are c, how many were found
        F1        = 2 TP / (2 TP + FP + FN)   harmonic mean of the two

    **0/0 is defined as 0** (scikit-learn's ``zero_division=0``): a class never predicted has
    precision 0, a class absent from ``y_true`` has recall 0, and such classes still count in
    the macro average - pass ``num_classes`` deliberately. The weighted average weights by
    support, so absent classes do not affect it.

    ``class_names`` label the rows of the report; default ``"0"``, ``"1"``, ...
    """
    if class_names is not None:
        class_names = tuple(str(name) for name in class_names)
        if num_classes is None:
            num_classes = len(class_names)
    confusion = confusion_matrix(y_true, y_pred, num_classes)
    num_classes = confusion.shape[0]
    if class_names is None:
        class_names = tuple(str(c) for c in range(num_classes))
    elif len(class_names) != num_classes:
        raise ValueError(
            f"class_names must have one name per class: expected {num_classes} names, "
            f"got {len(class_names)}"
        )

    true_positives = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    false_positives = predicted - true_positives
    false_negatives = support - true_positives

    precision = _safe_divide(true_positives, true_positives + false_positives)
    recall = _safe_divide(true_positives, true_positives + false_negatives)
    f1 = _safe_divide(2 * true_positives, 2 * true_positives + false_positives + false_negatives)

    total = support.sum()
    weights = support / total
    return ClassificationMetrics(
        class_names=class_names,
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        confusion=confusion,
        accuracy=float(true_positives.sum() / total),
        macro_precision=float(precision.mean()),
        macro_recall=float(recall.mean()),
        macro_f1=float(f1.mean()),
        weighted_precision=float(weights @ precision),
        weighted_recall=float(weights @ recall),
        weighted_f1=float(weights @ f1),
    )


def classification_report(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    *,
    digits: int = 2,
    style: Literal["text", "markdown"] = "text",
) -> str:
    """Per-class precision/recall/F1/support as a table: plain text (like scikit-learn's) or
    Markdown (for run reports). See :func:`per_class_metrics` for the definitions and the
    0/0 = 0 convention."""
    if style not in ("text", "markdown"):
        raise ValueError(f"style must be 'text' or 'markdown', got {style!r}")
    digits = check_integer(digits, "digits", minimum=0)
    metrics = per_class_metrics(y_true, y_pred, num_classes, class_names)
    return metrics.to_text(digits) if style == "text" else metrics.to_markdown(digits)
