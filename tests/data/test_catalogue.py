"""The dataset catalogue: complete entries, digests checked against real files, split names."""

from __future__ import annotations

import hashlib
import struct

import pytest
from tiny_datasets import require_dir

from chainrule.data.catalogue import (
    FASHION_MNIST,
    KMNIST,
    MNIST,
    REGISTRY,
    SPLITS,
    RemoteFile,
    available_datasets,
    get_dataset_info,
    normalize_splits,
)
from chainrule.data.download import file_digest


def test_registry_entries_are_complete():
    assert set(REGISTRY) == {"mnist", "fashion-mnist", "kmnist"}
    for info in REGISTRY.values():
        assert len(info.class_names) == 10
        assert len(info.mirrors) > 1
        assert info.description and info.citation and info.homepage
        for remote in info.files():
            assert remote.size > 0
            assert remote.sha256 is not None and len(remote.sha256) == 64
            assert remote.checksum[0] == "sha256"
    assert FASHION_MNIST.class_names[0] == "T-shirt/top"
    assert FASHION_MNIST.class_names[-1] == "Ankle boot"
    assert KMNIST.class_names == ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
    assert MNIST.train_images.name == "train-images-idx3-ubyte.gz"


def test_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="known datasets: mnist, fashion-mnist, kmnist"):
        get_dataset_info("cifar10")
    assert get_dataset_info("Fashion_MNIST") is FASHION_MNIST


def test_a_remote_file_needs_a_digest():
    with pytest.raises(ValueError, match="give sha256 or md5"):
        RemoteFile("x.gz", 10)


def test_mnist_test_labels_digest_matches_the_local_official_copy(shared_data):
    path = require_dir(shared_data / "mnist") / "t10k-labels-idx1-ubyte.gz"
    assert file_digest(path) == MNIST.test_labels.sha256
    assert path.stat().st_size == MNIST.test_labels.size


@pytest.mark.parametrize(
    ("key", "mtime"), [("test_labels", 1504176627), ("train_labels", 1504176606)]
)
def test_fashion_mnist_digests_match_the_debian_copy_with_its_upstream_gzip_header(
    key, mtime, shared_data
):
    """Debian's files are the upstream downloads with the gzip header's name and time dropped.

    Putting the upstream header back (FNAME flag, original name, original mtime) must give the
    official bytes, and so the registry's size and SHA-256: this checks the registry against
    real data without a network.
    """
    remote = getattr(FASHION_MNIST, key)
    local = require_dir(shared_data / "fashion-mnist") / remote.name
    body = local.read_bytes()[10:]  # deflate stream + trailer, after the 10-byte gzip header
    name = remote.name.removesuffix(".gz").encode() + b"\0"
    upstream = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + b"\x00\x03" + name + body
    assert len(upstream) == remote.size
    assert hashlib.sha256(upstream).hexdigest() == remote.sha256
    assert hashlib.md5(upstream).hexdigest() == remote.md5


def test_available_datasets_are_the_registry_sorted():
    assert available_datasets() == sorted(REGISTRY) == ["fashion-mnist", "kmnist", "mnist"]


def test_split_names_are_normalized_and_unknown_ones_rejected():
    assert normalize_splits("test") == ("test",)
    assert normalize_splits("all") == normalize_splits("both") == SPLITS
    assert normalize_splits(["test", "train", "test"]) == ("test", "train")
    with pytest.raises(ValueError, match=r"unknown split\(s\) \['validation'\]"):
        normalize_splits(["train", "validation"])
    with pytest.raises(ValueError, match="valid: 'train', 'test' or both"):
        normalize_splits([])
    with pytest.raises(ValueError, match="unknown split 'val'; valid splits: train, test"):
        MNIST.split_files("val")
    assert MNIST.split_files("test") == (MNIST.test_images, MNIST.test_labels)
