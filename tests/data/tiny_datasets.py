"""Small generated MNIST-format datasets and registry entries, shared by the tests of the
catalogue, the lookup, the download and the loading."""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import idx
from chainrule.data.catalogue import MNIST, DatasetInfo, RemoteFile

FILE_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def require_dir(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"offline dataset folder not available: {path}")
    return path


def tiny_arrays(n_train: int = 20, n_test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_split_files(directory: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for key in FILE_KEYS:
        if key in arrays:
            name = getattr(MNIST, key).name
            idx.write_idx(directory / (name if gz else name.removesuffix(".gz")), arrays[key])
    return directory


def tiny_info(name: str = "tiny", mirrors: tuple[str, ...] = ()) -> DatasetInfo:
    """A registry entry shaped like MNIST; digests are irrelevant for local lookup."""
    return replace(MNIST, name=name, mirrors=mirrors)


def gz_payloads(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """Official file name -> gzip bytes, as a mirror would serve them."""
    payloads = {}
    for key in FILE_KEYS:
        header = bytes([0, 0, 8, arrays[key].ndim]) + struct.pack(
            f">{arrays[key].ndim}I", *arrays[key].shape
        )
        payloads[getattr(MNIST, key).name] = gzip.compress(header + arrays[key].tobytes(), mtime=0)
    return payloads


def info_for_payloads(payloads: dict[str, bytes], use_md5: bool = False) -> DatasetInfo:
    """A test registry entry whose sizes and checksums are those of ``payloads``."""
    files = {}
    for key in FILE_KEYS:
        name = getattr(MNIST, key).name
        data = payloads[name]
        if use_md5:
            files[key] = RemoteFile(name, len(data), md5=hashlib.md5(data).hexdigest())
        else:
            files[key] = RemoteFile(name, len(data), sha256=hashlib.sha256(data).hexdigest())
    return replace(MNIST, name="tiny", mirrors=(), **files)
