"""Where datasets come from: the registry, the local lookup, and the checksummed download.

Lookup order (the first place holding a split's two files wins, split by split):

1. ``data_dir`` (the CLI's ``--data-dir``), else ``$CHAINRULE_DATA``; in either, the files may
   sit in ``DIR/<name>/`` or directly in ``DIR/``;
2. the user cache, ``$XDG_CACHE_HOME/chainrule/<name>`` (default ``~/.cache/chainrule/<name>``);
3. ``/usr/share/datasets/<name>`` (Debian's ``dataset-fashion-mnist`` installs there);
4. download from the registry's mirrors into the user cache.

Files found on disk are checked by IDX structure (magic number, type, dimensions, counts), not
by checksum: a re-compressed copy is legitimate and its gzip bytes differ from the official
download. Downloads are checked by size and checksum, written to a temporary file in the cache
and moved into place with ``os.replace``, so a file under its final name is always complete.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from chainrule.data.idx import IdxHeader, read_idx, read_idx_header

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

DATA_ENV_VAR = "CHAINRULE_DATA"
SYSTEM_DATA_ROOT = Path("/usr/share/datasets")
SPLITS: tuple[str, ...] = ("train", "test")
DOWNLOAD_CHUNK_BYTES = 1 << 16
DEFAULT_TIMEOUT_SECONDS = 60.0
_USER_AGENT = "chainrule-dataset-fetch/0.1 (+python urllib)"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


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


class DownloadError(OSError):
    """One download attempt from one mirror failed (network, HTTP status, short body)."""


class ChecksumError(DownloadError):
    """A downloaded file's size or digest differs from the registry's: never kept."""


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteFile:
    """One official download: its file name, size in bytes and digest.

    ``sha256`` is preferred; ``md5`` is the fallback where no verified SHA-256 exists. At least
    one is required, because an unverified download is never accepted.
    """

    name: str
    size: int
    sha256: str | None = None
    md5: str | None = None

    def __post_init__(self) -> None:
        if not self.sha256 and not self.md5:
            raise ValueError(f"RemoteFile {self.name!r}: give sha256 or md5 (or both)")

    @property
    def checksum(self) -> tuple[str, str]:
        """(algorithm, expected hex digest): SHA-256 when known, else MD5."""
        if self.sha256:
            return "sha256", self.sha256.lower()
        assert self.md5 is not None  # guaranteed by __post_init__
        return "md5", self.md5.lower()


@dataclass(frozen=True)
class DatasetInfo:
    """Everything known about one MNIST-format dataset.

    ``mirrors`` are base URLs tried in order; a file's URL is ``mirror + file.name``.
    """

    name: str
    title: str
    description: str
    homepage: str
    citation: str
    license: str
    class_names: tuple[str, ...]
    mirrors: tuple[str, ...]
    train_images: RemoteFile
    train_labels: RemoteFile
    test_images: RemoteFile
    test_labels: RemoteFile
    image_shape: tuple[int, int] = (28, 28)
    class_descriptions: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split_files(self, split: str) -> tuple[RemoteFile, RemoteFile]:
        """(images, labels) files of ``split`` ("train" or "test")."""
        if split == "train":
            return self.train_images, self.train_labels
        if split == "test":
            return self.test_images, self.test_labels
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")

    def files(self, splits: Iterable[str] = SPLITS) -> list[RemoteFile]:
        return [remote for split in splits for remote in self.split_files(split)]


def _files(
    sizes: dict[str, int], sha256: dict[str, str], md5: dict[str, str]
) -> dict[str, RemoteFile]:
    return {
        key: RemoteFile(name=f"{name}.gz", size=sizes[key], sha256=sha256[key], md5=md5[key])
        for key, name in {
            "train_images": "train-images-idx3-ubyte",
            "train_labels": "train-labels-idx1-ubyte",
            "test_images": "t10k-images-idx3-ubyte",
            "test_labels": "t10k-labels-idx1-ubyte",
        }.items()
    }


# Sizes and SHA-256 below are those of the official downloads as recorded by
# tensorflow/datasets (tensorflow_datasets/url_checksums/{mnist,fashion_mnist,kmnist}.txt);
# the MD5s are torchvision's (torchvision/datasets/mnist.py). For Fashion-MNIST both were
# re-derived from the Debian copies, whose gzip headers differ from the upstream files only in
# the stored name and time stamp. Never edit one by hand: a wrong digest rejects every download.
MNIST = DatasetInfo(
    name="mnist",
    title="MNIST",
    description="70,000 handwritten digits 0-9 (60,000 train, 10,000 test), 28x28 grayscale.",
    homepage="http://yann.lecun.com/exdb/mnist/",
    citation=(
        "Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning applied to "
        "document recognition. Proceedings of the IEEE, 86(11):2278-2324, 1998."
    ),
    license="CC BY-SA 3.0 (as stated by the MNIST homepage)",
    class_names=tuple(str(digit) for digit in range(10)),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    **_files(
        sizes={
            "train_images": 9_912_422,
            "train_labels": 28_881,
            "test_images": 1_648_877,
            "test_labels": 4_542,
        },
        sha256={
            "train_images": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train_labels": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "test_images": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "test_labels": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        md5={
            "train_images": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train_labels": "d53e105ee54ea40749a09fcbcd1e9432",
            "test_images": "9fb629c4189551a2d022fa330f9573f3",
            "test_labels": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
)

FASHION_MNIST = DatasetInfo(
    name="fashion-mnist",
    title="Fashion-MNIST",
    description=(
        "70,000 Zalando product photos in 10 clothing classes, a drop-in, harder MNIST: "
        "same 28x28 grayscale format and split sizes."
    ),
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    citation=(
        "H. Xiao, K. Rasul and R. Vollgraf. Fashion-MNIST: a Novel Image Dataset for "
        "Benchmarking Machine Learning Algorithms. arXiv:1708.07747, 2017."
    ),
    license="MIT",
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    **_files(
        sizes={
            "train_images": 26_421_880,
            "train_labels": 29_515,
            "test_images": 4_422_102,
            "test_labels": 5_148,
        },
        sha256={
            "train_images": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train_labels": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "test_images": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "test_labels": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        md5={
            "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
            "test_images": "bef4ecab320f06d8554ea6380940ec79",
            "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
)

KMNIST = DatasetInfo(
    name="kmnist",
    title="Kuzushiji-MNIST",
    description=(
        "70,000 handwritten cursive Japanese characters (kuzushiji), one class per hiragana "
        "for 10 characters, in MNIST's 28x28 grayscale format and split sizes."
    ),
    homepage="https://github.com/rois-codh/kmnist",
    citation=(
        "T. Clanuwat, M. Bober-Irizar, A. Kitamoto, A. Lamb, K. Yamamoto and D. Ha. Deep "
        "Learning for Classical Japanese Literature. arXiv:1812.01718, 2018. "
        '"KMNIST Dataset" (created by CODH), adapted from "Kuzushiji Dataset" '
        "(created by NIJL and others), doi:10.20676/00000341."
    ),
    license="CC BY-SA 4.0",
    class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    class_descriptions=(
        "お (o)",
        "き (ki)",
        "す (su)",
        "つ (tsu)",
        "な (na)",
        "は (ha)",
        "ま (ma)",
        "や (ya)",
        "れ (re)",
        "を (wo)",
    ),
    mirrors=(
        "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    ),
    **_files(
        sizes={
            "train_images": 18_165_135,
            "train_labels": 29_497,
            "test_images": 3_041_136,
            "test_labels": 5_120,
        },
        sha256={
            "train_images": "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
            "train_labels": "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
            "test_images": "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
            "test_labels": "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
        },
        md5={
            "train_images": "bdb82020997e1d708af4cf47b453dcf7",
            "train_labels": "e144d726b3acfaa3e44228e80efcd344",
            "test_images": "5c965bf0a639b31b8f53240b1b52f4d7",
            "test_labels": "7320c461ea6c1c855c0b718fb2a4b134",
        },
    ),
)

REGISTRY: dict[str, DatasetInfo] = {info.name: info for info in (MNIST, FASHION_MNIST, KMNIST)}


def available_datasets() -> list[str]:
    """Names accepted by ``load_dataset``, ``locate`` and ``fetch``."""
    return sorted(REGISTRY)


def get_dataset_info(name: str | DatasetInfo) -> DatasetInfo:
    """The registry entry for ``name``; a ``DatasetInfo`` passes through (tests, custom data)."""
    if isinstance(name, DatasetInfo):
        return name
    key = name.strip().lower().replace("_", "-")
    if key not in REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(REGISTRY)}")
    return REGISTRY[key]


# --------------------------------------------------------------------------------------------
# Local lookup
# --------------------------------------------------------------------------------------------


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


def _normalize_splits(splits: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(splits, str):
        splits = SPLITS if splits in ("all", "both") else (splits,)
    result = tuple(dict.fromkeys(splits))
    unknown = [split for split in result if split not in SPLITS]
    if unknown or not result:
        raise ValueError(
            f"unknown split(s) {unknown or list(splits)}; valid: 'train', 'test' or both"
        )
    return result


def _find_splits(
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
    wanted = _normalize_splits(splits)
    locations = search_locations(info, data_dir, cache_dir)
    found = _find_splits(info, wanted, locations)
    missing = [split for split in wanted if split not in found]
    if missing:
        raise DatasetNotFoundError(
            _not_found_message(info, missing, locations),
            summary=_not_found_summary(info, missing, locations),
        )
    return found


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks (the image files are tens of MB)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _make_progress(enabled: bool) -> Progress:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


def download_file(
    url: str,
    remote: RemoteFile,
    destination: Path,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    progress: Progress | None = None,
    task_id: TaskID | None = None,
) -> Path:
    """Download ``url`` to ``destination`` atomically, verifying size and checksum.

    The bytes stream into a temporary file next to ``destination`` (same file system, so the
    final ``os.replace`` is atomic); on any failure the temporary file is removed, so a partial
    or corrupt file never appears under the final name. Raises ``DownloadError`` (network,
    HTTP, short body) or ``ChecksumError`` (wrong size or digest).
    """
    algorithm, expected_digest = remote.checksum
    hasher = hashlib.new(algorithm)
    received = 0
    declared_length: int | None = None
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{remote.name}.", suffix=".part", dir=destination.parent
    )
    temp_path = Path(temp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(request, timeout=timeout) as response,
        ):
            header = response.headers.get("Content-Length")
            declared_length = int(header) if header and header.isdigit() else None
            if progress is not None and task_id is not None:
                progress.reset(task_id, total=declared_length or remote.size)
            while chunk := response.read(DOWNLOAD_CHUNK_BYTES):
                out.write(chunk)
                hasher.update(chunk)
                received += len(chunk)
                if progress is not None and task_id is not None:
                    progress.advance(task_id, len(chunk))
        if declared_length is not None and received < declared_length:
            raise DownloadError(
                f"{url}: connection closed after {received:,} of {declared_length:,} bytes "
                "(interrupted download; nothing was kept)"
            )
        if received != remote.size:
            raise ChecksumError(
                f"{url}: {remote.name} is {received:,} bytes, expected {remote.size:,} "
                "(wrong or corrupt file on this mirror; nothing was kept)"
            )
        actual_digest = hasher.hexdigest()
        if actual_digest != expected_digest:
            raise ChecksumError(
                f"{url}: {algorithm} mismatch for {remote.name}: expected {expected_digest}, "
                f"got {actual_digest} (corrupt or altered download; nothing was kept)"
            )
        os.chmod(temp_path, 0o644)  # mkstemp makes 0600; a cache file is ordinary data
        os.replace(temp_path, destination)
    except urllib.error.HTTPError as error:
        temp_path.unlink(missing_ok=True)
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        temp_path.unlink(missing_ok=True)
        raise DownloadError(f"{url}: {error.reason}") from None
    except (http.client.HTTPException, TimeoutError, ConnectionError) as error:
        temp_path.unlink(missing_ok=True)
        raise DownloadError(
            f"{url}: {type(error).__name__}: {error} (interrupted download; nothing was kept)"
        ) from None
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return destination


def _join_url(base: str, file_name: str) -> str:
    return base if base.endswith(file_name) else base.rstrip("/") + "/" + file_name


class _FetchFailure(Exception):
    """Internal: every mirror failed for one file; carries the per-mirror reasons."""

    def __init__(self, remote: RemoteFile) -> None:
        super().__init__(remote.name)
        self.remote = remote
        self.reasons: list[str] = []


def fetch(
    name: str | DatasetInfo,
    cache_dir: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
    splits: str | Sequence[str] = SPLITS,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, SplitFiles]:
    """Download the files of ``splits`` that the cache lacks; return ``{split: SplitFiles}``.

    Each file is tried on every mirror in turn (``mirrors`` overrides the registry's list, e.g.
    a loopback server in tests). Files already in the cache are kept. When some file cannot be
    had from any mirror, raises one ``DatasetNotFoundError`` listing every attempt and where to
    put the files by hand.
    """
    info = get_dataset_info(name)
    wanted = _normalize_splits(splits)
    target = Path(cache_dir) if cache_dir is not None else user_cache_root() / info.name
    target.mkdir(parents=True, exist_ok=True)
    mirror_list = tuple(mirrors) if mirrors is not None else info.mirrors
    try:
        with _make_progress(progress) as bar:
            for remote in info.files(wanted):
                if find_file(target, remote.name) is None:
                    _fetch_one(remote, mirror_list, target / remote.name, timeout, bar, info)
    except _FetchFailure as failure:
        locations = [SearchLocation(target, "user cache")]
        message = _not_found_message(info, wanted, locations, failure.reasons, download_tried=True)
        summary = _not_found_summary(info, wanted, locations, failure.reasons)
        raise DatasetNotFoundError(message, failure.reasons, summary) from None
    found = _find_splits(info, wanted, [SearchLocation(target, "user cache")])
    return found


def _fetch_one(
    remote: RemoteFile,
    mirrors: Sequence[str],
    destination: Path,
    timeout: float,
    bar: Progress,
    info: DatasetInfo,
) -> None:
    failure = _FetchFailure(remote)
    if not mirrors:
        failure.reasons.append(f"{remote.name}: no mirrors configured")
        raise failure
    task_id = bar.add_task(f"{info.name}/{remote.name}", total=remote.size)
    for mirror in mirrors:
        url = _join_url(mirror, remote.name)
        try:
            download_file(url, remote, destination, timeout, bar, task_id)
            return
        except DownloadError as error:
            failure.reasons.append(str(error))
            if not bar.disable:  # progress=False also means no chatter
                bar.console.print(f"[yellow]download failed:[/yellow] {error}", highlight=False)
    raise failure


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass(repr=False)
class Dataset:
    """Arrays of one dataset: images uint8 (n, height, width), labels int64 (n,).

    A split that was not asked for is ``None`` (e.g. only MNIST's test split is available).
    """

    name: str
    class_names: tuple[str, ...]
    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of ``split``; ``ValueError`` if that split was not loaded."""
        _normalize_splits(split)
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
    every label lies in [0, num_classes).
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    check_split_files(images_path, labels_path, image_shape)
    images = read_idx(images_path)
    labels = read_idx(labels_path).astype(np.int64)
    if num_classes is not None and labels.size and int(labels.max()) >= num_classes:
        raise ValueError(
            f"{labels_path}: label {int(labels.max())} found, but the dataset has only "
            f"{num_classes} classes (labels must lie in [0, {num_classes}))"
        )
    return images, labels


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
    wanted = _normalize_splits(splits)
    locations = search_locations(info, data_dir, cache_dir)
    found = _find_splits(info, wanted, locations)
    missing = [split for split in wanted if split not in found]
    if missing and not download:
        raise DatasetNotFoundError(
            _not_found_message(info, missing, locations),
            summary=_not_found_summary(info, missing, locations),
        )
    if missing:
        cache = next(loc.directory for loc in locations if loc.origin == "user cache")
        try:
            found.update(fetch(info, cache, mirrors, progress, missing))
        except DatasetNotFoundError as error:
            message = _not_found_message(
                info, missing, locations, error.download_failures, download_tried=True
            )
            summary = _not_found_summary(info, missing, locations, error.download_failures)
            raise DatasetNotFoundError(message, error.download_failures, summary) from None
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
) -> Dataset:
    """Load your own MNIST-format data: a folder with the usual four IDX file names.

    The files are the official names (``train-images-idx3-ubyte[.gz]`` and so on, also the
    ``train-images.idx3-ubyte`` spelling); any image size works. ``splits=None`` loads every
    split whose two files are present (at least one must be). ``class_names`` defaults to
    "0", "1", ... up to the largest label. For files with other names use ``load_idx_pair``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"load_idx_directory: {directory} is not a directory")
    name = name or directory.name
    wanted = SPLITS if splits is None else _normalize_splits(splits)
    loaded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
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
    if not loaded:
        expected = ", ".join(remote.name for remote in MNIST.files(SPLITS))
        raise DatasetNotFoundError(
            f"{directory}: no split of {name!r} found; expected the files {expected} "
            "(with or without .gz), the images and labels of a split side by side"
        )
    largest_label = max(int(y.max()) for _, y in loaded.values() if y.size)
    if class_names is None:
        class_names = [str(label) for label in range(largest_label + 1)]
    elif largest_label >= len(class_names):
        raise ValueError(
            f"{directory}: label {largest_label} found but only {len(class_names)} class names "
            "given (labels must lie in [0, number of class names))"
        )
    dataset = Dataset(name=name, class_names=tuple(class_names))
    for split, (images, labels) in loaded.items():
        setattr(dataset, f"x_{split}", images)
        setattr(dataset, f"y_{split}", labels)
    return dataset
