"""Where datasets are found on disk: the lookup order, accepted file names, header checks, and
the not-found message that says where to put the files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_datasets import tiny_arrays, tiny_info, write_split_files

from chainrule.data import idx, lookup
from chainrule.data.load import load_dataset, load_split
from chainrule.data.lookup import (
    DatasetNotFoundError,
    accepted_file_names,
    locate,
    search_locations,
)

pytestmark = pytest.mark.usefixtures("isolated_locations")


def test_lookup_order_data_dir_then_env_then_cache_then_system(tmp_path, monkeypatch):
    info = tiny_info()
    # Each place holds a test split of a different size, so we can tell which one was used.
    explicit = write_split_files(tmp_path / "explicit" / "tiny", tiny_arrays(n_test=1))
    env = write_split_files(tmp_path / "env" / "tiny", tiny_arrays(n_test=2))
    cache = write_split_files(tmp_path / "xdg-cache" / "chainrule" / "tiny", tiny_arrays(n_test=3))
    system = write_split_files(tmp_path / "usr-share-datasets" / "tiny", tiny_arrays(n_test=4))
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))

    def used_directory(**kwargs) -> Path:
        return locate(info, splits="test", **kwargs)["test"].images.parent

    assert used_directory(data_dir=tmp_path / "explicit") == explicit
    assert used_directory() == env
    monkeypatch.delenv("CHAINRULE_DATA")
    assert used_directory() == cache
    for path in cache.iterdir():
        path.unlink()
    assert used_directory() == system
    assert len(load_dataset(info, download=False, splits="test").y_test) == 4


def test_cache_defaults_to_home_when_xdg_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert lookup.user_cache_root() == tmp_path / "home" / ".cache" / "chainrule"


def test_files_directly_in_data_dir_and_unzipped_names(tmp_path):
    arrays = tiny_arrays()
    write_split_files(tmp_path / "flat", arrays, gz=False)
    data = load_dataset(tiny_info(), data_dir=tmp_path / "flat", download=False)
    np.testing.assert_array_equal(data.x_train, arrays["train_images"])
    assert data.y_test.dtype == np.int64


def test_dotted_file_names_left_by_unzip_tools(tmp_path):
    arrays = tiny_arrays()
    folder = tmp_path / "dotted"
    folder.mkdir()
    idx.write_idx(folder / "t10k-images.idx3-ubyte", arrays["test_images"])
    idx.write_idx(folder / "t10k-labels.idx1-ubyte", arrays["test_labels"])
    images, labels = load_split(tiny_info(), "test", data_dir=folder, download=False)
    np.testing.assert_array_equal(images, arrays["test_images"])
    np.testing.assert_array_equal(labels, arrays["test_labels"])


def test_splits_can_come_from_different_places(tmp_path):
    only_test = {k: v for k, v in tiny_arrays().items() if k.startswith("test")}
    only_train = {k: v for k, v in tiny_arrays().items() if k.startswith("train")}
    write_split_files(tmp_path / "data" / "tiny", only_test)
    write_split_files(tmp_path / "usr-share-datasets" / "tiny", only_train)
    found = locate(tiny_info(), data_dir=tmp_path / "data")
    assert found["test"].images.parent == tmp_path / "data" / "tiny"
    assert found["train"].images.parent == tmp_path / "usr-share-datasets" / "tiny"


def test_missing_split_names_files_and_places(tmp_path):
    only_test = {k: v for k, v in tiny_arrays().items() if k.startswith("test")}
    write_split_files(tmp_path / "data", only_test)
    assert len(load_split(tiny_info(), "test", data_dir=tmp_path / "data")[1]) == 10
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset(tiny_info(), data_dir=tmp_path / "data", download=False)
    assert isinstance(error.value, FileNotFoundError)
    message = str(error.value)
    assert "split 'train'" in message
    assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "data" / "tiny") in message
    assert str(tmp_path / "xdg-cache" / "chainrule" / "tiny") in message
    assert str(tmp_path / "usr-share-datasets" / "tiny") in message
    assert "--data-dir DIR" in message and "CHAINRULE_DATA=DIR" in message


def test_corrupt_local_file_is_reported_by_name(tmp_path):
    folder = write_split_files(tmp_path / "data", tiny_arrays())
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not an idx file at all")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz"):
        load_dataset(tiny_info(), data_dir=folder, download=False)


def test_image_and_label_counts_must_agree(tmp_path):
    arrays = tiny_arrays()
    arrays["test_labels"] = arrays["test_labels"][:7]
    folder = write_split_files(tmp_path / "data", arrays)
    with pytest.raises(ValueError, match="holds 10 images but t10k-labels-idx1-ubyte.gz holds 7"):
        locate(tiny_info(), data_dir=folder)


def test_swapped_images_and_labels_are_caught(tmp_path):
    arrays = tiny_arrays()
    folder = tmp_path / "data"
    folder.mkdir()
    idx.write_idx(folder / "t10k-images-idx3-ubyte.gz", arrays["test_labels"])
    idx.write_idx(folder / "t10k-labels-idx1-ubyte.gz", arrays["test_images"])
    with pytest.raises(ValueError, match="expected 3 dimensions"):
        locate(tiny_info(), data_dir=folder, splits="test")


def test_accepted_file_names_cover_gunzipped_and_dotted_spellings():
    assert accepted_file_names("train-images-idx3-ubyte.gz") == [
        "train-images-idx3-ubyte.gz",
        "train-images-idx3-ubyte",
        "train-images.idx3-ubyte.gz",
        "train-images.idx3-ubyte",
    ]


def test_search_locations_say_where_each_directory_came_from(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    origins = [(loc.directory, loc.origin) for loc in search_locations(tiny_info())]
    assert origins == [
        (tmp_path / "env" / "tiny", "$CHAINRULE_DATA"),
        (tmp_path / "env", "$CHAINRULE_DATA"),
        (tmp_path / "xdg-cache" / "chainrule" / "tiny", "user cache"),
        (tmp_path / "usr-share-datasets" / "tiny", "system datasets"),
    ]
    explicit = search_locations(tiny_info(), data_dir=tmp_path / "mine", cache_dir=tmp_path / "c")
    assert [loc.origin for loc in explicit[:2]] == ["--data-dir", "--data-dir"]
    assert explicit[2].directory == tmp_path / "c"
