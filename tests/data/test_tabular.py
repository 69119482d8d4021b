"""Your own data as a table: CSV files of points and NPZ files of arrays, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.data.tabular import (
    encode_labels,
    load_csv,
    load_npz,
    parse_csv,
    parse_csv_features,
)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# --- CSV ---------------------------------------------------------------------------------------


def test_a_csv_of_points_reads_features_labels_and_names(tmp_path):
    path = write(tmp_path / "points.csv", "x1,label,x2\n0.5,1,-1\n\n2,0,3.25\n1e-3,1,0\n")
    table = load_csv(path)
    np.testing.assert_array_equal(table.x, [[0.5, -1.0], [2.0, 3.25], [0.001, 0.0]])
    np.testing.assert_array_equal(table.y, [1, 0, 1])
    assert table.class_names == ("0", "1")
    assert table.feature_names == ("x1", "x2")


def test_string_labels_become_sorted_class_names(tmp_path):
    table = parse_csv("a,kind\n1,red\n2,blue\n3,red\n4,green\n", "c.csv", label_column="kind")
    assert table.class_names == ("blue", "green", "red")
    np.testing.assert_array_equal(table.y, [2, 0, 2, 1])


def test_integer_labels_sort_as_numbers_not_text():
    table = parse_csv("x,label\n1,10\n2,9\n3,-1\n", "c.csv")
    assert table.class_names == ("-1", "9", "10")
    np.testing.assert_array_equal(table.y, [2, 1, 0])


def test_a_test_split_is_read_with_the_training_classes():
    train = parse_csv("x,label\n1,cat\n2,dog\n", "train.csv")
    test = parse_csv("x,label\n5,dog\n", "test.csv", class_names=train.class_names)
    assert test.class_names == ("cat", "dog")
    np.testing.assert_array_equal(test.y, [1])
    with pytest.raises(ValueError, match=r"test.csv: line 3: label 'cow' is not one of"):
        parse_csv("x,label\n5,dog\n6,cow\n", "test.csv", class_names=train.class_names)


def test_a_byte_order_mark_from_a_spreadsheet_is_dropped(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("x1,label\n1,0\n2,1\n".encode("utf-8-sig"))
    assert load_csv(path).feature_names == ("x1",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "c.csv: the file is empty; expected a header line"),
        ("x1,x2,label\n", "c.csv: the header is the only line"),
        ("x1,x2\n1,2\n", "c.csv: no label column 'label' in the header (x1, x2); name the label"),
        ("1,2,0\n3,4,1\n", "the first line looks like numbers: a CSV dataset needs a header"),
        (
            "x1,x2,label\n1,2,0\n1,oops,1\n",
            "c.csv: line 3, column 2 ('x2'): 'oops' is not a finite",
        ),
        ("x1,x2,label\n1,,0\n", "c.csv: line 2, column 2 ('x2'): an empty value is not a finite"),
        ("x1,label\ninf,0\n", "c.csv: line 2, column 1 ('x1'): 'inf' is not a finite number"),
        ("x1,x2,label\n1,2\n", "c.csv: line 2 has 2 value(s) but the header has 3 columns"),
        ("x1,label\n1, \n", "c.csv: line 2, column 2 ('label'): the label is empty"),
        ("x1,x1,label\n1,2,0\n", "c.csv: line 1: column name 'x1' appears twice (columns 1 and 2)"),
        ("x1,,label\n1,2,0\n", "c.csv: line 1, column 2: the column has no name"),
        ("label\n1\n", "c.csv: the header has only the label column 'label'"),
        ('x1,label\n"1,0\n', "c.csv: line"),
    ],
)
def test_each_bad_csv_names_the_file_and_where(text, message):
    with pytest.raises(ValueError) as error:
        parse_csv(text, "c.csv")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_line_number_counts_blank_lines():
    with pytest.raises(ValueError, match="line 5, column 1"):
        parse_csv("x,label\n1,0\n\n\nbad,1\n", "c.csv")


def test_missing_and_non_utf8_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="CSV file not found: .*nope.csv"):
        load_csv(tmp_path / "nope.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("x,label\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin.csv: not UTF-8 text"):
        load_csv(latin)


def test_features_to_predict_are_read_by_name_in_the_model_s_order():
    x, lines = parse_csv_features("b,label,a\n1,0,2\n\n3,1,4\n", "new.csv", ["a", "b"])
    np.testing.assert_array_equal(x, [[2, 1], [4, 3]])
    assert lines == [2, 4]
    with pytest.raises(ValueError, match="new.csv: no column 'c' in the header"):
        parse_csv_features("a,b\n1,2\n", "new.csv", ["a", "c"])


def test_encode_labels_without_names_sorts_them():
    y, names = encode_labels(["b", "a", "b"], ["here"] * 3)
    assert names == ("a", "b")
    np.testing.assert_array_equal(y, [1, 0, 1])


# --- NPZ ---------------------------------------------------------------------------------------


def test_an_npz_table_with_a_test_split(tmp_path, rng):
    x = rng.normal(size=(30, 3))
    y = np.arange(30) % 3
    path = tmp_path / "arrays.npz"
    np.savez(path, x_train=x[:20], y_train=y[:20], x_test=x[20:], y_test=y[20:])
    arrays = load_npz(path)
    np.testing.assert_array_equal(arrays.x_train, x[:20])
    np.testing.assert_array_equal(arrays.y_test, y[20:])
    assert arrays.class_names == ("0", "1", "2")


def test_an_npz_of_uint8_images_stays_images_channel_dropped(tmp_path, rng):
    images = rng.integers(0, 256, size=(6, 1, 8, 8), dtype=np.uint8)
    path = tmp_path / "images.npz"
    np.savez(path, x_train=images, y_train=np.array([0, 1, 0, 1, 0, 1]))
    arrays = load_npz(path)
    assert arrays.x_train.shape == (6, 8, 8) and arrays.x_train.dtype == np.uint8
    assert arrays.x_test is None


def test_npz_string_labels_and_given_class_names(tmp_path):
    path = tmp_path / "named.npz"
    np.savez(path, x_train=np.zeros((3, 2)), y_train=np.array(["dog", "cat", "dog"]))
    arrays = load_npz(path)
    assert arrays.class_names == ("cat", "dog")
    np.testing.assert_array_equal(arrays.y_train, [1, 0, 1])
    path = tmp_path / "given.npz"
    np.savez(
        path,
        x_train=np.zeros((2, 2)),
        y_train=np.array([2, 0]),
        class_names=np.array(["a", "b", "c"]),
    )
    arrays = load_npz(path)
    assert arrays.class_names == ("a", "b", "c")
    np.testing.assert_array_equal(arrays.y_train, [2, 0])


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.zeros((3, 2))}, "no 'y_train' array (it holds x_train)"),
        (
            {"x_train": np.zeros((3, 2)), "y_train": np.zeros(3), "x_test": np.zeros((1, 2))},
            "'x_test' without 'y_test'; give both or neither",
        ),
        (
            {"x_train": np.zeros((3, 2)), "y_train": np.zeros(3), "extra": np.zeros(1)},
            "unknown array 'extra'",
        ),
        (
            {"x_train": np.zeros((3, 2)), "y_train": np.zeros(4)},
            "y_train has shape (4,) but x_train holds 3 example(s)",
        ),
        ({"x_train": np.zeros(3), "y_train": np.zeros(3)}, "x_train has shape (3,); expected"),
        (
            {"x_train": np.zeros((3, 4, 4)), "y_train": np.zeros(3)},
            "x_train holds images of shape (4, 4) as float64; images are uint8",
        ),
        (
            {"x_train": np.array([[1.0, np.nan]]), "y_train": np.zeros(1)},
            "x_train[0, 1] is nan; features must be finite",
        ),
        (
            {"x_train": np.zeros((2, 2)), "y_train": np.array([0.5, 1.0])},
            "y_train[0] = 0.5 is not a class label",
        ),
        (
            {
                "x_train": np.zeros((2, 2)),
                "y_train": np.zeros(2),
                "x_test": np.zeros((1, 3)),
                "y_test": np.zeros(1),
            },
            "x_test has examples of shape (3,) but x_train (2,)",
        ),
        (
            {
                "x_train": np.zeros((2, 2)),
                "y_train": np.array([0, 5]),
                "class_names": np.array(["a", "b"]),
            },
            "y_train[1] = 5 is outside the classes 0..1",
        ),
        (
            {
                "x_train": np.zeros((2, 2)),
                "y_train": np.array([0, 1]),
                "x_test": np.zeros((1, 2)),
                "y_test": np.array([7]),
            },
            "y_test[0]: label 7 is not one of the training data's classes (0, 1)",
        ),
    ],
)
def test_each_bad_npz_names_the_file_and_array(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError) as error:
        load_npz(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_pickled_objects_in_an_npz_are_never_loaded(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x_train=np.zeros((2, 2)), y_train=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match="holds Python objects .pickled., which chainrule never"):
        load_npz(path)


def test_a_file_that_is_not_an_npz_is_named(tmp_path):
    path = write(tmp_path / "fake.npz", "not a zip")
    with pytest.raises(ValueError, match="fake.npz: not a readable .npz file"):
        load_npz(path)
    with pytest.raises(FileNotFoundError, match="NPZ file not found"):
        load_npz(tmp_path / "missing.npz")
