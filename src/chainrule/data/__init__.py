"""Datasets: IDX files (read, locate or download with checksums), your own CSV and NPZ files,
the built-in 2-D sets, and preprocessing.

The modules, in the order data flows: ``idx`` (the file format), ``catalogue`` (the known
datasets and their official files), ``lookup`` (where they are on disk), ``download`` (fetch
what is missing, verified), ``tabular`` (CSV and NPZ files of your own), ``toy`` (XOR, moons,
circles, spirals, blobs, seeded), ``load`` (arrays by split, any source by name:
``open_dataset``), ``transforms`` (scale, one-hot, split, augment), ``preprocessing`` (images
or tables) and ``images`` (your own pictures, made MNIST-like).

Typical use::

    from chainrule.data import load_dataset, scale, one_hot, train_val_split

    data = load_dataset("fashion-mnist")              # looks on disk, downloads if allowed
    x_train = scale(data.x_train)                     # uint8 -> float32 in [0, 1]
    train_idx, val_idx = train_val_split(x_train, data.y_train, 0.1, rng=0)
    targets = one_hot(data.y_train[train_idx], data.num_classes)

    x, y = toy_dataset("moons", n=400, noise=0.1, seed=0)   # points (400, 2), labels (400,)
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
    dataset_kind,
    load_dataset,
    load_idx_directory,
    load_idx_pair,
    load_split,
    open_dataset,
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
from chainrule.data.toy import TOY_DATASETS, ToyDataset, ToyParam, toy_class_names, toy_dataset
from chainrule.data.transforms import (
    Standardizer,
    augment,
    flatten,
    one_hot,
    scale,
    to_images,
    train_test_split,
    train_val_split,
)

__all__ = [
    "DATA_ENV_VAR",
    "FASHION_MNIST",
    "KMNIST",
    "MNIST",
    "REGISTRY",
    "SPLITS",
    "TOY_DATASETS",
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
    "ToyDataset",
    "ToyParam",
    "augment",
    "available_datasets",
    "dataset_kind",
    "fetch",
    "flatten",
    "get_dataset_info",
    "load_dataset",
    "load_idx_directory",
    "load_idx_pair",
    "load_split",
    "locate",
    "one_hot",
    "open_dataset",
    "parse_idx",
    "read_idx",
    "read_idx_header",
    "scale",
    "search_locations",
    "to_images",
    "toy_class_names",
    "toy_dataset",
    "train_test_split",
    "train_val_split",
    "user_cache_root",
    "write_idx",
]
