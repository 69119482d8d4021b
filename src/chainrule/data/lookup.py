"""Where a dataset's files are on this machine: the lookup order, and checks of what is found.

Lookup order (the first place holding a split's two files wins, split by split):

1. ``data_dir`` (the CLI's ``--data-dir``), else ``$CHAINRULE_DATA``; in either, the files may
   sit in ``DIR/<name>/`` or directly in ``DIR/``;
2. the user cache, ``$XDG_CACHE_HOME/chainrule/<name>`` (default ``~/.cache/chainrule/<name>``);
3. ``/usr/share/datasets/<name>`` (Debian's ``dataset-fashion-mnist`` installs there).

(``load_dataset`` then downloads what is still missing into the user cache: see ``download``.)
Files found on disk are checked by IDX structure (magic number, type, dimensions, counts), not
by checksum: a re-compressed copy is legitimate and its gzip bytes differ from the official
download. When a split is nowhere, ``DatasetNotFoundError`` lists every place tried and where
to put the files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chainrule.data.catalogue import SPLITS, DatasetInfo, get_dataset_info, normalize_splits
from chainrule.data.idx import IdxHeader, read_idx_header

DATA_ENV_VAR = "CHAINRULE_DATA"
SYSTEM_DATA_ROOT = Path("/usr/share/datasets")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset split is neither on disk nor downloadable; the message says where to put it.

    ``download_failures`` holds one line per failed download attempt (empty if none was made);
    ``summary`` is the same advice in one line, for command-line errors.
    """

    def __init__(
        self, message: str, download_failures: Sequence[str] = (), summary: str | None = None
    ) -> None:
        super().__init__(message)
        self.download_failures = list(download_failures)
        self.summary = summary or message.splitlines()[0]


@dataclass(frozen=True)
class SearchLocation:
    """A directory that is searched, and why (shown to the user when nothing is found)."""

    directory: Path
    origin: str


@dataclass(frozen=True)
class SplitFiles:
    """The two files of one split as found on disk."""

    split: str
    images: Path
    labels: Path


def user_cache_root() -> Path:
    """``$XDG_CACHE_HOME/chainrule``, or ``~/.cache/chainrule`` (the XDG default)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "chainrule"


def search_locations(
    name: str | DatasetInfo,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> list[SearchLocation]:
    """The directories ``locate`` searches, in order, with where each came from."""
    info = get_dataset_info(name)
    locations: list[SearchLocation] = []
    env_value = os.environ.get(DATA_ENV_VAR, "")
    if data_dir is not None:
        root, origin = Path(data_dir), "--data-dir"
    elif env_value:
        root, origin = Path(env_value), f"${DATA_ENV_VAR}"
    else:
        root = None
    if root is not None:
        locations.append(SearchLocation(root / info.name, origin))
        locations.append(SearchLocation(root, origin))
    cache = Path(cache_dir) if cache_dir is not None else user_cache_root() / info.name
    locations.append(SearchLocation(cache, "user cache"))
    locations.append(SearchLocation(SYSTEM_DATA_ROOT / info.name, "system datasets"))
    return locations


def accepted_file_names(official_name: str) -> list[str]:
    """Names under which an official file is recognised on disk.

    ``train-images-idx3-ubyte.gz`` is also found as ``train-images-idx3-ubyte`` (gunzipped) and
    as ``train-images.idx3-ubyte[.gz]``, the spelling that many unzip tools leave behind.
    """
    stem = official_name.removesuffix(".gz")
    dotted = stem.replace("-idx", ".idx", 1)
    names = [f"{stem}.gz", stem, f"{dotted}.gz", dotted]
    return list(dict.fromkeys(names))


def find_file(directory: Path, official_name: str) -> Path | None:
    """The first accepted spelling of ``official_name`` that exists as a file in ``directory``."""
    for candidate in accepted_file_names(official_name):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def _check_header(
    path: Path, header: IdxHeader, ndim: int, image_shape: tuple[int, ...] | None
) -> None:
    what = "an image file (n, height, width)" if ndim == 3 else "a label file (n,)"
    if header.type_code != 0x08:
        raise ValueError(
            f"{path}: expected unsigned bytes (IDX type 0x08) in {what}, "
            f"found type code 0x{header.type_code:02X}"
        )
    if len(header.shape) != ndim:
        raise ValueError(
            f"{path}: expected {ndim} dimensions for {what}, found {len(header.shape)} "
            f"(shape {header.shape}); are the images and labels files swapped?"
        )
    if image_shape is not None and header.shape[1:] != tuple(image_shape):
        raise ValueError(
            f"{path}: expected images of {image_shape[0]}x{image_shape[1]} pixels, "
            f"found {header.shape[1]}x{header.shape[2]}"
        )


def check_split_files(
    images: Path, labels: Path, image_shape: tuple[int, ...] | None = None
) -> tuple[IdxHeader, IdxHeader]:
    """Validate a split's two files by their headers only (cheap; payload checked on load).

    Raises ``ValueError`` naming the file when a header is corrupt, the types or dimensions are
    not those of MNIST-format images and labels, or the two counts disagree.
    """
    image_header = read_idx_header(images)
    label_header = read_idx_header(labels)
    _check_header(images, image_header, 3, image_shape)
    _check_header(labels, label_header, 1, None)
    if image_header.shape[0] != label_header.shape[0]:
        raise ValueError(
            f"{images.name} holds {image_header.shape[0]:,} images but {labels.name} holds "
            f"{label_header.shape[0]:,} labels: the counts must match "
            f"(files from different datasets or splits? in {images.parent})"
        )
    return image_header, label_header


def find_splits(
    info: DatasetInfo, splits: Sequence[str], locations: Sequence[SearchLocation]
) -> dict[str, SplitFiles]:
    """For each split, the first location holding both of its files (validated by header)."""
    found: dict[str, SplitFiles] = {}
    for split in splits:
        image_file, label_file = info.split_files(split)
        for location in locations:
            images = find_file(location.directory, image_file.name)
            labels = find_file(location.directory, label_file.name)
            if images is not None and labels is not None:
                check_split_files(images, labels, info.image_shape)
                found[split] = SplitFiles(split, images, labels)
                break
    return found


def _not_found_message(
    info: DatasetInfo,
    missing_splits: Sequence[str],
    locations: Sequence[SearchLocation],
    download_failures: Sequence[str] = (),
    download_tried: bool = False,
) -> str:
    needed = [remote.name for remote in info.files(missing_splits)]
    split_words = " and ".join(repr(s) for s in missing_splits)
    plural = "s" if len(missing_splits) > 1 else ""
    width = max(len(str(location.directory)) for location in locations)
    lines = [
        f"Dataset {info.name!r} (split{plural} {split_words}) was not found on this machine"
        + (" and could not be downloaded." if download_tried else "."),
        "",
        f"Looked for {', '.join(needed)} (with or without .gz) in:",
    ]
    lines += [f"  {location.directory!s:<{width}}  ({location.origin})" for location in locations]
    if not any(location.origin.startswith(("--", "$")) for location in locations):
        lines.append(f"  (no --data-dir given and ${DATA_ENV_VAR} is not set)")
    if download_failures:
        lines += ["", "Download attempts (all failed):"]
        lines += [f"  {failure}" for failure in download_failures]
    elif not download_tried:
        lines += ["", "Downloading was not attempted (download=False)."]
    cache = next(loc.directory for loc in locations if loc.origin == "user cache")
    lines += [
        "",
        "To fix it, get these files (from " + info.homepage + "):",
        *(f"    {name}" for name in needed),
        f"and put them in {cache}",
        f"or in a folder DIR of your choice (directly in DIR, or in DIR/{info.name}) and pass",
        f"--data-dir DIR or set {DATA_ENV_VAR}=DIR.",
    ]
    return "\n".join(lines)


def _not_found_summary(
    info: DatasetInfo,
    missing_splits: Sequence[str],
    locations: Sequence[SearchLocation],
    download_failures: Sequence[str] = (),
) -> str:
    """The not-found advice in one line: what is missing, where it looked, what to do."""
    needed = ", ".join(remote.name for remote in info.files(missing_splits))
    looked = ", ".join(str(location.directory) for location in locations)
    cache = next(loc.directory for loc in locations if loc.origin == "user cache")
    failed = f"; download failed ({download_failures[-1]})" if download_failures else ""
    return (
        f"dataset {info.name!r} ({' and '.join(missing_splits)}) not found in {looked}{failed}; "
        f"put {needed} in {cache} or in DIR and pass --data-dir DIR (or set {DATA_ENV_VAR})"
    )


def dataset_not_found(
    info: DatasetInfo,
    missing_splits: Sequence[str],
    locations: Sequence[SearchLocation],
    download_failures: Sequence[str] = (),
    download_tried: bool = False,
) -> DatasetNotFoundError:
    """The error for splits found nowhere: every place tried, each failed download, the fix."""
    message = _not_found_message(info, missing_splits, locations, download_failures, download_tried)
    summary = _not_found_summary(info, missing_splits, locations, download_failures)
    return DatasetNotFoundError(message, download_failures, summary)


def locate(
    name: str | DatasetInfo,
    data_dir: str | os.PathLike[str] | None = None,
    splits: str | Sequence[str] = SPLITS,
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[str, SplitFiles]:
    """Find the dataset's files on disk, split by split, without downloading anything.

    Returns ``{split: SplitFiles}``. Raises ``DatasetNotFoundError`` (listing where it looked
    and where to put the files) when a requested split is nowhere, and ``ValueError`` when a
    found file's IDX header is corrupt or not MNIST-shaped.
    """
    info = get_dataset_info(name)
    wanted = normalize_splits(splits)
    locations = search_locations(info, data_dir, cache_dir)
    found = find_splits(info, wanted, locations)
    missing = [split for split in wanted if split not in found]
    if missing:
        raise dataset_not_found(info, missing, locations)
    return found
