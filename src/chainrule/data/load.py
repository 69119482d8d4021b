"""Loading a dataset into arrays: a registered one (on disk first, downloaded if allowed), your
own folder of IDX files, any two IDX files of images and labels, a CSV or NPZ file of your own
(``tabular``), or a built-in 2-D set (``toy``).

Images come back as uint8 (n, height, width), tables as float (n, features), labels as int64
(n,); ``Dataset`` holds them by split. ``open_dataset`` takes any of these sources by the one
string a recipe's ``data.dataset`` or ``--dataset`` gives. Where IDX files are looked for is
``lookup``'s order; what is missing is fetched into the user cache by ``download``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainrule.data.catalogue import (
    MNIST,
    REGISTRY,
    SPLITS,
    DatasetInfo,
    get_dataset_info,
    normalize_splits,
)
from chainrule.data.download import fetch
from chainrule.data.idx import read_idx
from chainrule.data.lookup import (
    DatasetNotFoundError,
    check_split_files,
    dataset_not_found,
    find_file,
    find_splits,
    search_locations,
)
from chainrule.data.tabular import load_csv, load_npz
from chainrule.data.toy import TOY_DATASETS, toy_class_names, toy_dataset
from chainrule.utils.validation import check_integer

#: What a ``data.dataset`` string can name (see ``dataset_kind``).
DATASET_KINDS = ("registered", "idx-folder", "csv", "npz", "toy")


@dataclass(repr=False)
class Dataset:
    """Arrays of one dataset: images uint8 (n, height, width) or a table float (n, features),
    labels int64 (n,).

    A split that was not asked for, or that the source does not have (a CSV file, a 2-D toy
    set), is ``None``. ``feature_names`` names a table's columns (None for images).
    """

    name: str
    class_names: tuple[str, ...]
    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    feature_names: tuple[str, ...] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_images(self) -> bool:
        """True for grey images (n, h, w), False for a table of features (n, d)."""
        x = self.x_train if self.x_train is not None else self.x_test
        return x is not None and x.ndim == 3

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of ``split``; ``ValueError`` if that split was not loaded."""
        normalize_splits(split)
        images, labels = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
        if images is None or labels is None:
            raise ValueError(f"dataset {self.name!r}: the {split!r} split was not loaded")
        return images, labels

    def __repr__(self) -> str:
        parts = [f"name={self.name!r}", f"num_classes={self.num_classes}"]
        for split in SPLITS:
            images = getattr(self, f"x_{split}")
            if images is not None:
                parts.append(f"x_{split}={images.shape} {images.dtype}")
        return f"Dataset({', '.join(parts)})"


def load_idx_pair(
    images_path: str | os.PathLike[str],
    labels_path: str | os.PathLike[str],
    num_classes: int | None = None,
    image_shape: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read one split from two IDX files of any name: images uint8 (n, h, w), labels int64.

    Checks the two files belong together (counts) and, when ``num_classes`` is given, that
    every label lies in [0, num_classes): the first one outside is named with its index.
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    check_split_files(images_path, labels_path, image_shape)
    images = read_idx(images_path)
    labels = read_idx(labels_path).astype(np.int64)
    if num_classes is not None:
        check_label_range(
            labels, labels_path, num_classes, f"the dataset has {num_classes} classes"
        )
    return images, labels


def check_label_range(
    labels: np.ndarray, labels_path: str | os.PathLike[str], num_classes: int, whose: str
) -> None:
    """Every label in [0, num_classes), or a ``ValueError`` naming the file, the first label
    outside, its index, how many are outside, and the classes expected.

    ``whose`` says where the classes come from: "the dataset has 10 classes",
    "10 class names given".
    """
    outside = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if outside.size:
        first = int(outside[0])
        raise ValueError(
            f"{labels_path}: label {int(labels[first])} at index {first} is outside the classes "
            f"0..{num_classes - 1} ({whose}; {outside.size:,} label(s) outside)"
        )


def infer_num_classes(labels_by_file: dict[Path, np.ndarray]) -> int:
    """The number of classes k that labels (>= 0, as IDX label files hold) imply when nobody
    named the classes: the classes are 0..k-1, the run 0, 1, 2, ... that the labels fill
    without a gap, across all the files.

    A label beyond a gap (200 in a folder of digits 0..9, where no example is labelled 10) is
    a stray value, not 191 classes without examples: it is refused with its file and index,
    rather than silently building a 201-class model.
    """
    present = np.zeros(1, dtype=bool)
    for labels in labels_by_file.values():
        if labels.size:
            counts = np.bincount(labels, minlength=present.size)
            present = np.pad(present, (0, counts.size - present.size)) | (counts > 0)
    num_classes = present.size if present.all() else int(np.argmin(present))
    beyond = sum(int(np.count_nonzero(labels >= num_classes)) for labels in labels_by_file.values())
    for path, labels in labels_by_file.items():
        outside = np.flatnonzero(labels >= num_classes)
        if outside.size:
            first = int(outside[0])
            raise ValueError(
                f"{path}: label {int(labels[first])} at index {first} is outside the classes "
                f"0..{num_classes - 1} that the labels fill without a gap (no example is "
                f"labelled {num_classes}; {beyond:,} label(s) beyond); correct the label, or "
                "name the classes (class_names=[...] or num_classes=...)"
            )
    return num_classes


def load_dataset(
    name: str | DatasetInfo,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    splits: str | Sequence[str] = SPLITS,
    cache_dir: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
) -> Dataset:
    """Load a registered dataset: look on disk first, download what is missing if allowed.

    ``splits`` is "train", "test" or both (default). Asking only for what exists works offline:
    ``load_dataset("mnist", splits="test")``. A split that is neither on disk nor downloadable
    raises one ``DatasetNotFoundError`` that lists every place tried and where to put the files.
    """
    info = get_dataset_info(name)
    wanted = normalize_splits(splits)
    locations = search_locations(info, data_dir, cache_dir)
    found = find_splits(info, wanted, locations)
    missing = [split for split in wanted if split not in found]
    if missing and not download:
        raise dataset_not_found(info, missing, locations)
    if missing:
        cache = next(loc.directory for loc in locations if loc.origin == "user cache")
        try:
            found.update(fetch(info, cache, mirrors, progress, missing))
        except DatasetNotFoundError as error:
            raise dataset_not_found(
                info, missing, locations, error.download_failures, download_tried=True
            ) from None
    dataset = Dataset(name=info.name, class_names=info.class_names)
    for split in wanted:
        files = found[split]
        images, labels = load_idx_pair(
            files.images, files.labels, info.num_classes, info.image_shape
        )
        setattr(dataset, f"x_{split}", images)
        setattr(dataset, f"y_{split}", labels)
    return dataset


def load_split(
    name: str | DatasetInfo,
    split: str,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of one split, e.g. ``load_split("mnist", "test")``.

    Needs only that split's two files, so it works where the others are missing.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    dataset = load_dataset(name, data_dir, download, (split,), cache_dir, mirrors, progress)
    return dataset.split(split)


def load_idx_directory(
    directory: str | os.PathLike[str],
    name: str | None = None,
    class_names: Sequence[str] | None = None,
    splits: str | Sequence[str] | None = None,
    num_classes: int | None = None,
) -> Dataset:
    """Load your own MNIST-format data: a folder with the usual four IDX file names.

    The files are the official names (``train-images-idx3-ubyte[.gz]`` and so on, also the
    ``train-images.idx3-ubyte`` spelling); any image size works. ``splits=None`` loads every
    split whose two files are present (at least one must be). For files with other names use
    ``load_idx_pair``.

    The classes: ``class_names`` names them (labels must lie in [0, len(class_names))), or
    ``num_classes`` counts them (names "0", "1", ...); with neither, they are inferred from
    the labels as 0..k-1 (see ``infer_num_classes``: a stray label beyond a gap is an error
    naming its file and index).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"load_idx_directory: {directory} is not a directory")
    name = name or directory.name
    wanted = SPLITS if splits is None else normalize_splits(splits)
    loaded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    label_files: dict[Path, np.ndarray] = {}
    for split in wanted:
        image_file, label_file = MNIST.split_files(split)
        images = find_file(directory, image_file.name)
        labels = find_file(directory, label_file.name)
        if images is None or labels is None:
            if splits is None:
                continue
            missing = image_file.name if images is None else label_file.name
            raise DatasetNotFoundError(
                f"{directory}: no {missing} (with or without .gz) for the {split!r} split of "
                f"{name!r}; expected files: "
                + ", ".join(remote.name for remote in MNIST.files(wanted))
            )
        loaded[split] = load_idx_pair(images, labels)
        label_files[labels] = loaded[split][1]
    if not loaded:
        expected = ", ".join(remote.name for remote in MNIST.files(SPLITS))
        raise DatasetNotFoundError(
            f"{directory}: no split of {name!r} found; expected the files {expected} "
            "(with or without .gz), the images and labels of a split side by side"
        )
    class_names = _decide_classes(label_files, class_names, num_classes)
    dataset = Dataset(name=name, class_names=tuple(class_names))
    for split, (images, labels) in loaded.items():
        setattr(dataset, f"x_{split}", images)
        setattr(dataset, f"y_{split}", labels)
    return dataset


def _decide_classes(
    label_files: dict[Path, np.ndarray],
    class_names: Sequence[str] | None,
    num_classes: int | None,
) -> list[str]:
    """The class names of a folder's labels: given, counted, or inferred (and checked)."""
    if class_names is not None and num_classes is not None and len(class_names) != num_classes:
        raise ValueError(
            f"load_idx_directory: {len(class_names)} class names given but num_classes="
            f"{num_classes}; give one of the two, or make them agree"
        )
    if class_names is not None:
        if not class_names:
            raise ValueError("load_idx_directory: class_names is empty; name at least one class")
        names, whose = list(class_names), f"{len(class_names)} class names given"
    elif num_classes is not None:
        num_classes = check_integer(num_classes, "num_classes", where="load_idx_directory")
        names, whose = [str(label) for label in range(num_classes)], f"num_classes={num_classes}"
    else:
        return [str(label) for label in range(infer_num_classes(label_files))]
    for path, labels in label_files.items():
        check_label_range(labels, path, len(names), whose)
    return names


# --------------------------------------------------------------------------------------------
# Any source by name
# --------------------------------------------------------------------------------------------


def dataset_kind(source: str) -> str:
    """What ``source`` names: "csv" or "npz" (a file, by its suffix), "idx-folder" (a folder
    of IDX files), "toy" (a built-in 2-D set) or "registered" (mnist, ...; or unknown)."""
    suffix = Path(source).suffix.lower()
    if suffix in (".csv", ".npz"):
        return suffix[1:]
    if Path(source).is_dir():
        return "idx-folder"
    if source.strip().lower() in TOY_DATASETS:
        return "toy"
    return "registered"


def open_dataset(
    source: str,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = True,
    splits: str | Sequence[str] = SPLITS,
    num_classes: int | None = None,
    label_column: str = "label",
    test_file: str | os.PathLike[str] | None = None,
    toy_settings: dict | None = None,
    seed: int = 0,
) -> Dataset:
    """The dataset ``source`` names, whatever its kind (see ``dataset_kind``).

    A CSV file or a toy set has only a train split (unless ``test_file``, a CSV read with
    the training split's classes, gives the test split); so may an NPZ file: the caller holds
    out a test split where ``x_test`` is None. ``toy_settings`` and ``seed`` make a toy set;
    ``label_column`` names a CSV's label column; ``num_classes`` (a trained model's) checks an
    IDX folder's labels. ``splits`` limits what a registered dataset or folder loads.
    """
    kind = dataset_kind(source)
    if kind == "idx-folder":
        return load_idx_directory(source, splits=splits, num_classes=num_classes)
    if kind == "csv":
        table = load_csv(source, label_column)
        dataset = Dataset(
            name=Path(source).stem,
            class_names=table.class_names,
            x_train=table.x,
            y_train=table.y,
            feature_names=table.feature_names,
        )
        if test_file is not None:
            test = load_csv(test_file, label_column, class_names=table.class_names)
            if test.feature_names != table.feature_names:
                raise ValueError(
                    f"{test_file}: its feature columns ({', '.join(test.feature_names)}) are not "
                    f"those of {source} ({', '.join(table.feature_names)})"
                )
            dataset.x_test, dataset.y_test = test.x, test.y
        return dataset
    if kind == "npz":
        arrays = load_npz(source)
        features = arrays.x_train.shape[1] if arrays.x_train.ndim == 2 else None
        return Dataset(
            name=Path(source).stem,
            class_names=arrays.class_names,
            x_train=arrays.x_train,
            y_train=arrays.y_train,
            x_test=arrays.x_test,
            y_test=arrays.y_test,
            feature_names=None if features is None else tuple(f"x{i + 1}" for i in range(features)),
        )
    if kind == "toy":
        settings = dict(toy_settings or {})
        x, y = toy_dataset(source, seed=seed, **settings)
        return Dataset(
            name=source.strip().lower(),
            class_names=toy_class_names(source, **settings),
            x_train=x,
            y_train=y,
            feature_names=("x1", "x2"),
        )
    if source.strip().lower().replace("_", "-") not in REGISTRY:
        raise ValueError(unknown_dataset_message(source))
    return load_dataset(source, data_dir, download=download, splits=splits, progress=progress)


def unknown_dataset_message(source: str) -> str:
    """Why ``source`` names no dataset, and every kind of thing that would."""
    path = Path(source)
    if path.suffix or len(path.parts) > 1:
        return (
            f"dataset {source!r} not found: no such folder of IDX files; a file of your own "
            "data ends in .csv or .npz"
        )
    return (
        f"unknown dataset {source!r}; give a registered dataset ({', '.join(REGISTRY)}), a "
        f"built-in 2-D set ({', '.join(TOY_DATASETS)}), a folder of IDX files, or a .csv or "
        ".npz file"
    )
