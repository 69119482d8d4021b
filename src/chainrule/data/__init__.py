"""Datasets in IDX format: read, locate or download with checksums, and preprocess.

The modules, in the order data flows: ``idx`` (the file format), ``catalogue`` (the known
datasets and their official files), ``lookup`` (where they are on disk), ``download`` (fetch
what is missing, verified), ``load`` (arrays by split), ``transforms`` (scale, one-hot,
split, augment), ``preprocessing`` and ``images`` (your own pictures, made MNIST-like).

Typical use::

    from chainrule.data import load_dataset, scale, one_hot, train_val_split

    data = load_dataset("fashion-mnist")              # looks on disk, downloads if allowed
    x_train = scale(data.x_train)                     # uint8 -> float32 in [0, 1]
    train_idx, val_idx = train_val_split(x_train, data.y_train, 0.1, rng=0)
    targets = one_hot(data.y_train[train_idx], data.num_classes)
"""

from chainrule.data.catalogue import (
    FASHION_MNIST,
    KMNIST,
    MNIST,
    REGISTRY,
    SPLITS,
    DatasetInfo,
    RemoteFile,
    available_datasets,
    get_dataset_info,
)
from chainrule.data.download import ChecksumError, DownloadError, fetch
from chainrule.data.idx import (
    IdxHeader,
    parse_idx,
    read_idx,
    read_idx_header,
    write_idx,
)
from chainrule.data.load import (
    Dataset,
    load_dataset,
    load_idx_directory,
    load_idx_pair,
    load_split,
)
from chainrule.data.lookup import (
    DATA_ENV_VAR,
    DatasetNotFoundError,
    SearchLocation,
    SplitFiles,
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
