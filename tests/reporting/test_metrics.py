"""Metrics against cases small enough to count by hand."""

import re

import numpy as np
import pytest

from chainrule.reporting.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    per_class_metrics,
    top_k_accuracy,
)

# Three classes, eight samples. Counting by hand (rows true, columns predicted):
#   true 0: predicted 0, 0, 1        -> C[0] = [2, 1, 0]
#   true 1: predicted 1, 2           -> C[1] = [0, 1, 1]
#   true 2: predicted 2, 2, 0        -> C[2] = [1, 0, 2]
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2, 2, 0])
EXPECTED_CM = np.array([[2, 1, 0], [0, 1, 1], [1, 0, 2]])


def one_hot(labels, num_classes):
    return np.eye(num_classes)[labels]


def test_accuracy_counts_matches():
    # matches at positions 0, 1, 3, 5, 6 -> 5 of 8
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 8)


def test_accuracy_accepts_one_hot_and_scores():
    scores = one_hot(Y_PRED, 3) * 0.7 + 0.1  # rows still argmax to Y_PRED
    assert accuracy(one_hot(Y_TRUE, 3), scores) == pytest.approx(5 / 8)


def test_accuracy_accepts_sigmoid_column_for_binary_tasks():
    probabilities = np.array([[0.9], [0.2], [0.6], [0.4]])  # -> 1, 0, 1, 0
    assert accuracy(np.array([1, 0, 0, 0]), probabilities) == pytest.approx(3 / 4)


def test_confusion_matrix_by_counting():
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    np.testing.assert_array_equal(cm, EXPECTED_CM)
    assert cm.sum() == len(Y_TRUE)


def test_confusion_matrix_of_perfect_predictions_is_diagonal_of_supports():
    labels = np.array([0, 1, 2, 3, 1, 2, 3, 3])
    cm = confusion_matrix(labels, labels, 5)  # class 4 absent: an all-zero row and column
    np.testing.assert_array_equal(cm, np.diag([1, 2, 2, 3, 0]))
    np.testing.assert_array_equal(confusion_matrix([0, 1, 2], [0, 1, 2], 3), np.eye(3))


def test_confusion_matrix_infers_num_classes():
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED), EXPECTED_CM)
    assert confusion_matrix([0, 1], one_hot([0, 1], 4)).shape == (4, 4)


def test_per_class_metrics_by_counting():
    metrics = per_class_metrics(Y_TRUE, Y_PRED, 3, class_names=["zero", "one", "two"])
    # precision = correct / predicted as the class (column sums 3, 2, 3)
    expected_precision = np.array([2 / 3, 1 / 2, 2 / 3])
    # recall = correct / truly the class (row sums 3, 2, 3)
    expected_recall = np.array([2 / 3, 1 / 2, 2 / 3])
    expected_f1 = 2 * expected_precision * expected_recall / (expected_precision + expected_recall)
    np.testing.assert_allclose(metrics.precision, expected_precision)
    np.testing.assert_allclose(metrics.recall, expected_recall)
    np.testing.assert_allclose(metrics.f1, expected_f1)
    np.testing.assert_array_equal(metrics.support, [3, 2, 3])
    assert metrics.accuracy == pytest.approx(5 / 8)
    assert metrics.macro_precision == pytest.approx(expected_precision.mean())
    assert metrics.weighted_recall == pytest.approx((3 * 2 / 3 + 2 * 1 / 2 + 3 * 2 / 3) / 8)
    # weighted recall is always accuracy: sum over classes of TP / n
    assert metrics.weighted_recall == pytest.approx(metrics.accuracy)
    assert metrics.class_names == ("zero", "one", "two")


def test_per_class_metrics_unequal_precision_and_recall():
    # true 0 0 1 2 2 2, predicted 0 1 1 2 2 0:
    # class 0: TP 1, predicted 2, support 2 -> P 1/2, R 1/2
    # class 1: TP 1, predicted 2, support 1 -> P 1/2, R 1
    # class 2: TP 2, predicted 2, support 3 -> P 1,   R 2/3
    metrics = per_class_metrics([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    np.testing.assert_allclose(metrics.precision, [1 / 2, 1 / 2, 1])
    np.testing.assert_allclose(metrics.recall, [1 / 2, 1, 2 / 3])
    np.testing.assert_allclose(metrics.f1, [1 / 2, 2 / 3, 4 / 5])
    assert metrics.weighted_f1 == pytest.approx((2 * 1 / 2 + 1 * 2 / 3 + 3 * 4 / 5) / 6)


def test_zero_over_zero_is_zero():
    # class 2 is never predicted and never true: precision, recall, F1 are 0/0 -> 0
    metrics = per_class_metrics([0, 1, 1], [0, 1, 0], num_classes=3)
    assert metrics.precision[2] == 0 and metrics.recall[2] == 0 and metrics.f1[2] == 0
    assert metrics.support[2] == 0
    # it still counts in the macro average (as in scikit-learn with labels=...)
    assert metrics.macro_recall == pytest.approx((1 + 1 / 2 + 0) / 3)


def test_perfect_predictions_score_one():
    labels = np.array([0, 1, 2, 2, 1])
    metrics = per_class_metrics(labels, labels)
    np.testing.assert_array_equal(metrics.confusion, np.diag([1, 2, 2]))
    for value in (metrics.macro_f1, metrics.weighted_precision, metrics.accuracy):
        assert value == pytest.approx(1.0)


def test_top_k_accuracy():
    scores = np.array(
        [
            [0.1, 0.6, 0.3],  # true 2 ranks second
            [0.8, 0.15, 0.05],  # true 0 ranks first
            [0.2, 0.3, 0.5],  # true 0 ranks third
        ]
    )
    y_true = np.array([2, 0, 0])
    assert top_k_accuracy(y_true, scores, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(y_true, scores, 2) == pytest.approx(2 / 3)
    assert top_k_accuracy(y_true, scores, 3) == pytest.approx(1.0)
    assert top_k_accuracy(y_true, scores, 1) == pytest.approx(accuracy(y_true, scores))


def test_top_k_ties_favour_the_true_class():
    assert top_k_accuracy([1], np.array([[0.5, 0.5]]), 1) == 1.0


def test_text_report_layout():
    report = classification_report(Y_TRUE, Y_PRED, 3, ["zero", "one", "two"], digits=3)
    lines = report.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    assert lines[2].split() == ["zero", "0.667", "0.667", "0.667", "3"]
    assert "accuracy" in report and "macro avg" in report and "weighted avg" in report
    accuracy_line = next(line for line in lines if line.strip().startswith("accuracy"))
    assert accuracy_line.split() == ["accuracy", "0.625", "8"]


def test_markdown_report_and_rows():
    markdown = classification_report(Y_TRUE, Y_PRED, style="markdown")
    lines = markdown.strip().splitlines()
    assert lines[0] == "| class | precision | recall | f1-score | support |"
    assert len(lines) == 2 + 3 + 3  # header, separator, 3 classes, 3 summary rows
    assert lines[-1].startswith("| **weighted avg** |")
    rows = per_class_metrics(Y_TRUE, Y_PRED).rows()
    assert rows[3] == ("accuracy", None, None, pytest.approx(5 / 8), 8)


def test_to_dict_is_plain_python():
    import json

    data = per_class_metrics(Y_TRUE, Y_PRED, class_names=["a", "b", "c"]).to_dict()
    assert json.loads(json.dumps(data))["classes"]["b"]["support"] == 2


# ---------------------------------------------------------------- one test per error message


def test_error_mismatched_lengths():
    with pytest.raises(ValueError, match=r"same number of samples.*y_true with 3.*y_pred with 2"):
        accuracy([0, 1, 2], [0, 1])


def test_error_label_out_of_range():
    with pytest.raises(ValueError, match=r"y_pred contains label 3, outside .*\[0, 3\)"):
        confusion_matrix([0, 1, 2], [0, 1, 3], num_classes=3)
    with pytest.raises(ValueError, match=r"y_true contains label -1"):
        confusion_matrix([-1, 1, 2], [0, 1, 2], num_classes=3)


def test_error_empty_input():
    with pytest.raises(ValueError, match="y_true is empty: expected at least one sample"):
        accuracy([], [])


def test_error_fractional_labels():
    with pytest.raises(ValueError, match=r"y_pred must hold whole-number class labels, got 0\.5"):
        accuracy([0, 1], [0.0, 0.5])


def test_error_bad_shape():
    with pytest.raises(ValueError, match=r"y_true must be integer labels .* got shape \(2, 2, 2\)"):
        accuracy(np.zeros((2, 2, 2)), [0, 1])


def test_error_one_hot_width_vs_num_classes():
    with pytest.raises(ValueError, match="y_true has 4 columns but num_classes is 3"):
        confusion_matrix(one_hot([0, 1], 4), [0, 1], num_classes=3)


def test_error_bad_num_classes():
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        confusion_matrix([0], [0], num_classes=0)


def test_error_class_names_length():
    with pytest.raises(ValueError, match="expected 3 names, got 2"):
        per_class_metrics(Y_TRUE, Y_PRED, 3, class_names=["a", "b"])


def test_error_top_k_arguments():
    scores = np.zeros((2, 3))
    with pytest.raises(ValueError, match="k must be an integer from 1 to 3, got 4"):
        top_k_accuracy([0, 1], scores, 4)
    with pytest.raises(ValueError, match=r"scores must be a non-empty matrix"):
        top_k_accuracy([0, 1], np.zeros(3), 1)
    with pytest.raises(ValueError, match="y_true and scores must have the same number"):
        top_k_accuracy([0], scores, 1)


def test_error_report_style():
    with pytest.raises(ValueError, match="style must be 'text' or 'markdown', got 'html'"):
        classification_report(Y_TRUE, Y_PRED, style="html")


def test_error_report_digits():
    whole = classification_report(Y_TRUE, Y_TRUE, digits=0)  # 0 digits is allowed: "1", not "1.0"
    assert "1.0" not in whole and " 1 " in whole
    with pytest.raises(ValueError, match="digits must be an integer >= 0, got -1"):
        classification_report(Y_TRUE, Y_PRED, digits=-1)


# -- display -----------------------------------------------------------------------------------
def test_metrics_show_their_tables_in_a_notebook(html_text):
    metrics = per_class_metrics(Y_TRUE, Y_PRED, class_names=["cat", "dog", "emu"])
    assert repr(metrics) == (
        "ClassificationMetrics(3 classes, 8 samples, accuracy 0.6250, macro F1 "
        f"{metrics.macro_f1:.4f})"
    )
    text = html_text(metrics._repr_html_())
    assert "Accuracy 62.50% over 8 samples" in text
    assert f"cat {2 / 3:.4f} {2 / 3:.4f} {2 / 3:.4f} 3" in text  # TP 2, FP 1, FN 1: 2/3 each
    # the confusion matrix, a row per true class, read back from the table
    rows = re.findall(r"<tr><td>(cat|dog|emu)</td>((?:<td class=\"num\">\d+</td>)+)</tr>",
                      metrics._repr_html_())  # fmt: skip
    assert [[int(n) for n in re.findall(r">(\d+)<", cells)] for _, cells in rows] == (
        EXPECTED_CM.tolist()
    )
    markdown = metrics._repr_markdown_()
    assert "| true / predicted | cat | dog | emu |" in markdown
    assert "| **macro avg** |" in markdown  # the averages under the classes, in bold
    assert metrics._repr_latex_() is None  # tables only: a notebook's HTML is enough
