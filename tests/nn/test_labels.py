import numpy as np
import pytest

from chainrule.nn.labels import check_labels, one_hot


def test_whole_number_floats_become_int64_labels_and_one_hot_rows():
    labels = check_labels([2.0, 0.0, 1.0], num_classes=np.int64(3))
    assert labels.dtype == np.int64 and labels.tolist() == [2, 0, 1]
    assert one_hot([2, 0], 3).tolist() == [[0, 0, 1], [1, 0, 0]]


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, None])
def test_num_classes_must_be_a_count_and_the_message_names_the_caller(bad):
    with pytest.raises(ValueError) as error:
        one_hot([0], bad)
    assert str(error.value) == f"one_hot: num_classes must be an integer >= 1, got {bad!r}"


def test_a_label_outside_the_classes_is_named_with_its_position():
    with pytest.raises(
        ValueError, match=r"targets: label 3 is outside the class range 0\.\.2 \(at index 1"
    ):
        check_labels([0, 3], 3, where="targets")
