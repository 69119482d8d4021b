"""Loading datasets into arrays: registered ones by split, your own IDX folder or file pair."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_datasets import tiny_arrays, tiny_info, write_split_files

from chainrule.data import idx
from chainrule.data.load import (
    DatasetNotFoundError,
    load_dataset,
    load_idx_directory,
    load_idx_pair,
    load_split,
)

pytestmark = pytest.mark.usefixtures("isolated_locations")


def test_real_mnist_test_split_loads_without_the_train_split(shared_data):
    images, labels = load_split("mnist", "test", data_dir=shared_data, download=False)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_dataset("mnist", data_dir=shared_data, download=False)


def test_real_fashion_mnist_loads_completely(shared_data):
    data = load_dataset("fashion-mnist", data_dir=shared_data, download=False)
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.class_names[9] == "Ankle boot"


def test_custom_directory_and_file_pairs(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (6, 16, 16), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2], dtype=np.uint8)
    idx.write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    idx.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    data = load_idx_directory(tmp_path, name="shapes", class_names=["circle", "square", "star"])
    assert data.x_train is None and data.x_test.shape == (6, 16, 16)
    assert data.class_names == ("circle", "square", "star")
    assert load_idx_directory(tmp_path).class_names == ("0", "1", "2")
    with pytest.raises(ValueError, match=r"label 2 at index 2 is outside the classes 0\.\.1 "
                       r"\(2 class names given; 2 label\(s\) outside\)"):  # fmt: skip
        load_idx_directory(tmp_path, class_names=["a", "b"])
    idx.write_idx(tmp_path / "my-pictures.idx", images)
    idx.write_idx(tmp_path / "my-answers.idx", labels)
    x, y = load_idx_pair(tmp_path / "my-pictures.idx", tmp_path / "my-answers.idx")
    np.testing.assert_array_equal(x, images)
    assert y.dtype == np.int64
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError, match="no split"):
        load_idx_directory(empty)


def test_a_split_not_loaded_is_none_and_asking_for_it_names_it(tmp_path):
    arrays = tiny_arrays()
    folder = write_split_files(tmp_path / "data", arrays)
    data = load_dataset(tiny_info(), data_dir=folder, splits="test", download=False)
    assert data.x_train is None and data.y_train is None
    images, labels = data.split("test")
    np.testing.assert_array_equal(images, arrays["test_images"])
    np.testing.assert_array_equal(labels, arrays["test_labels"])
    assert repr(data) == "Dataset(name='tiny', num_classes=10, x_test=(10, 28, 28) uint8)"
    with pytest.raises(ValueError, match="dataset 'tiny': the 'train' split was not loaded"):
        data.split("train")
    with pytest.raises(ValueError, match="unknown split 'validation'; valid splits: train, test"):
        load_split(tiny_info(), "validation", data_dir=folder, download=False)


def test_labels_beyond_the_classes_and_missing_named_files_are_errors(tmp_path):
    arrays = tiny_arrays()
    folder = write_split_files(tmp_path / "data", arrays)
    with pytest.raises(ValueError, match=r"label 5 at index 5 is outside the classes 0\.\.4 "
                       r"\(the dataset has 5 classes; 5 label\(s\) outside\)"):  # fmt: skip
        load_idx_pair(
            folder / "t10k-images-idx3-ubyte.gz",
            folder / "t10k-labels-idx1-ubyte.gz",
            num_classes=5,
        )
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    assert load_idx_directory(folder).x_train is None  # splits=None: only what is there
    with pytest.raises(DatasetNotFoundError, match="no train-labels-idx1-ubyte.gz"):
        load_idx_directory(folder, splits="train")


def test_a_stray_label_beyond_the_classes_is_refused_with_its_file_and_index(tmp_path):
    arrays = tiny_arrays()
    arrays["train_labels"][7] = 200  # one label 200 among the digits 0..9
    folder = write_split_files(tmp_path / "data", arrays)
    with pytest.raises(ValueError) as caught:
        load_idx_directory(folder)
    message = str(caught.value)
    assert message.startswith(f"{folder / 'train-labels-idx1-ubyte.gz'}: label 200 at index 7 ")
    assert "outside the classes 0..9" in message
    assert "no example is labelled 10; 1 label(s) beyond" in message
    assert "\n" not in message
    # Naming the classes says the 201 classes are meant: then the label is one of them ...
    data = load_idx_directory(folder, num_classes=201)
    assert data.num_classes == 201 and data.class_names[200] == "200"
    assert load_idx_directory(folder, class_names=[f"c{k}" for k in range(201)]).num_classes == 201
    # ... and a count that is too small names the label, its index and the count.
    with pytest.raises(ValueError, match=r"label 200 at index 7 is outside the classes 0\.\.9 "
                       r"\(num_classes=10; 1 label\(s\) outside\)"):  # fmt: skip
        load_idx_directory(folder, num_classes=10)


def test_classes_inferred_from_labels_without_a_gap(tmp_path):
    arrays = tiny_arrays()
    arrays["test_labels"][:] = 0  # the test split alone lacks classes 1..9: the union counts
    folder = write_split_files(tmp_path / "data", arrays)
    assert load_idx_directory(folder).class_names == tuple(str(k) for k in range(10))
    arrays["train_labels"][arrays["train_labels"] == 3] = 4  # no 3 anywhere: 4..9 are strays
    folder = write_split_files(tmp_path / "gap", arrays)
    with pytest.raises(ValueError, match="label 4 at index 3 is outside the classes 0..2"):
        load_idx_directory(folder)


def test_class_names_and_num_classes_must_agree(tmp_path):
    folder = write_split_files(tmp_path / "data", tiny_arrays())
    with pytest.raises(ValueError, match="3 class names given but num_classes=10"):
        load_idx_directory(folder, class_names=["a", "b", "c"], num_classes=10)
    with pytest.raises(ValueError, match="class_names is empty"):
        load_idx_directory(folder, class_names=[])
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got True"):
        load_idx_directory(folder, num_classes=True)


# --- any source by name: CSV, NPZ, toy sets ------------------------------------------------------


def test_dataset_kind_tells_files_folders_toys_and_names_apart(tmp_path):
    from chainrule.data.load import dataset_kind

    assert dataset_kind("points.csv") == "csv"
    assert dataset_kind("arrays.NPZ") == "npz"
    assert dataset_kind(str(tmp_path)) == "idx-folder"
    assert dataset_kind("Moons") == "toy"
    assert dataset_kind("fashion-mnist") == "registered"


def test_open_dataset_reads_a_csv_with_its_test_file(tmp_path):
    from chainrule.data.load import open_dataset

    (tmp_path / "train.csv").write_text("a,b,label\n1,2,yes\n3,4,no\n5,6,yes\n")
    (tmp_path / "test.csv").write_text("a,b,label\n7,8,no\n")
    data = open_dataset(str(tmp_path / "train.csv"), test_file=tmp_path / "test.csv")
    assert data.name == "train" and data.class_names == ("no", "yes")
    assert data.feature_names == ("a", "b") and not data.is_images
    np.testing.assert_array_equal(data.y_train, [1, 0, 1])
    np.testing.assert_array_equal(data.y_test, [0])
    (tmp_path / "other.csv").write_text("b,a,label\n7,8,no\n")
    with pytest.raises(ValueError, match="other.csv: its feature columns .b, a. are not those of"):
        open_dataset(str(tmp_path / "train.csv"), test_file=tmp_path / "other.csv")


def test_open_dataset_reads_npz_tables_and_images(tmp_path):
    from chainrule.data.load import open_dataset

    np.savez(tmp_path / "t.npz", x_train=np.zeros((4, 3)), y_train=np.array([0, 1, 0, 1]))
    table = open_dataset(str(tmp_path / "t.npz"))
    assert table.feature_names == ("x1", "x2", "x3") and table.x_test is None
    images = np.zeros((4, 5, 5), np.uint8)
    np.savez(
        tmp_path / "i.npz", x_train=images, y_train=np.arange(4), x_test=images, y_test=np.arange(4)
    )
    data = open_dataset(str(tmp_path / "i.npz"))
    assert data.is_images and data.feature_names is None and data.num_classes == 4


def test_open_dataset_makes_a_toy_set_from_its_settings_and_seed():
    from chainrule.data import toy_dataset
    from chainrule.data.load import open_dataset

    data = open_dataset("blobs", toy_settings={"centers": 4, "n": 80}, seed=3)
    x, y = toy_dataset("blobs", centers=4, n=80, seed=3)
    np.testing.assert_array_equal(data.x_train, x)
    np.testing.assert_array_equal(data.y_train, y)
    assert data.class_names == ("0", "1", "2", "3") and data.x_test is None


def test_open_dataset_names_every_kind_for_an_unknown_name():
    from chainrule.data.load import open_dataset

    with pytest.raises(ValueError, match=r"unknown dataset 'moon'; give a registered dataset .* "
                                         r"a built-in 2-D set \(xor, moons"):  # fmt: skip
        open_dataset("moon")
    with pytest.raises(ValueError, match="dataset 'no/such/folder' not found"):
        open_dataset("no/such/folder")
