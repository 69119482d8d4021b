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
    with pytest.raises(ValueError, match="label 2 found but only 2 class names"):
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
    with pytest.raises(ValueError, match="label 9 found, but the dataset has only 5 classes"):
        load_idx_pair(
            folder / "t10k-images-idx3-ubyte.gz",
            folder / "t10k-labels-idx1-ubyte.gz",
            num_classes=5,
        )
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    assert load_idx_directory(folder).x_train is None  # splits=None: only what is there
    with pytest.raises(DatasetNotFoundError, match="no train-labels-idx1-ubyte.gz"):
        load_idx_directory(folder, splits="train")
