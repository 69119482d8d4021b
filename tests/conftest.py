"""Shared fixtures: where the offline datasets live, and small seeded generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The offline datasets (``../shared/data``); tests that need them skip without them."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> Path:
    """Real MNIST digits as a small custom dataset: 2,000 'train' and 1,000 'test' images.

    Only MNIST's test split is available offline, so part of it stands in for a training set
    (a folder of IDX files, as a user would bring their own data).
    """
    from chainrule.data import load_split, write_idx

    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline datasets not found at {SHARED_DATA}")
    images, labels = load_split("mnist", "test", data_dir=SHARED_DATA, download=False)
    directory = tmp_path_factory.mktemp("digits")
    write_idx(directory / "train-images-idx3-ubyte.gz", images[:2000])
    write_idx(directory / "train-labels-idx1-ubyte.gz", labels[:2000].astype(np.uint8))
    write_idx(directory / "t10k-images-idx3-ubyte.gz", images[2000:3000])
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", labels[2000:3000].astype(np.uint8))
    return directory
