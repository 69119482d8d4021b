"""The catalogue of MNIST-format datasets: what each is, its classes, and its official files.

Each ``DatasetInfo`` names the dataset's four files (train/test images and labels) with their
sizes and checksums, and the mirrors they are downloaded from; ``REGISTRY`` holds the three
built in (MNIST, Fashion-MNIST, Kuzushiji-MNIST). A split is "train" or "test".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SPLITS: tuple[str, ...] = ("train", "test")


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


def normalize_splits(splits: str | Sequence[str]) -> tuple[str, ...]:
    """``splits`` as a tuple of known split names without repeats; "all"/"both" mean both."""
    if isinstance(splits, str):
        splits = SPLITS if splits in ("all", "both") else (splits,)
    result = tuple(dict.fromkeys(splits))
    unknown = [split for split in result if split not in SPLITS]
    if unknown or not result:
        raise ValueError(
            f"unknown split(s) {unknown or list(splits)}; valid: 'train', 'test' or both"
        )
    return result
