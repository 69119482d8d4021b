"""Datasets in IDX format: read, locate or download with checksums, and preprocess.

Typical use::

    from chainrule.data import load_dataset, scale, one_hot, train_val_split

    data = load_dataset("fashion-mnist")              # looks on disk, downloads if allowed
    x_train = scale(data.x_train)                     # uint8 -> float32 in [0, 1]
    train_idx, val_idx = train_val_split(x_train, data.y_train, 0.1, rng=0)
    targets = one_hot(data.y_train[train_idx], data.num_classes)
"""

from chainrule.data.idx import (
    IdxHeader,
    parse_idx,
    read_idx,
    read_idx_header,
    write_idx,
)
from chainrule.data.sources import (
    DATA_ENV_VAR,
    FASHION_MNIST,
    KMNIST,
    MNIST,
    REGISTRY,
    SPLITS,
    ChecksumError,
    Dataset,
    DatasetInfo,
    DatasetNotFoundError,
    DownloadError,
    RemoteFile,
    SearchLocation,
    SplitFiles,
    available_datasets,
    fetch,
    get_dataset_info,
    load_dataset,
    load_idx_directory,
    load_idx_pair,
    load_split,
    locate,
    search_locations,
    user_cache_root,
)
from chainrule.data.transforms import (
    Standardizer,
    augment,
    flatten,
    one_hot,
    scale,
    to_images,
    train_val_split,
)

__all__ = [
    "DATA_ENV_VAR",
    "FASHION_MNIST",
    "KMNIST",
    "MNIST",
    "REGISTRY",
    "SPLITS",
    "ChecksumError",
    "Dataset",
    "DatasetInfo",
    "DatasetNotFoundError",
    "DownloadError",
    "IdxHeader",
    "RemoteFile",
    "SearchLocation",
    "SplitFiles",
    "Standardizer",
    "augment",
    "available_datasets",
    "fetch",
    "flatten",
    "get_dataset_info",
    "load_dataset",
    "load_idx_directory",
    "load_idx_pair",
    "load_split",
    "locate",
    "one_hot",
    "parse_idx",
    "read_idx",
    "read_idx_header",
    "scale",
    "search_locations",
    "to_images",
    "train_val_split",
    "user_cache_root",
    "write_idx",
]
