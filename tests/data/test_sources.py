"""Dataset registry, local lookup order, and the real download code against a loopback server."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import struct
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import idx, sources
from chainrule.data.sources import (
    FASHION_MNIST,
    KMNIST,
    MNIST,
    REGISTRY,
    DatasetInfo,
    DatasetNotFoundError,
    RemoteFile,
    fetch,
    file_digest,
    get_dataset_info,
    load_dataset,
    load_idx_directory,
    load_idx_pair,
    load_split,
    locate,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def require_dir(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"offline dataset folder not available: {path}")
    return path


@pytest.fixture(autouse=True)
def isolated_locations(tmp_path, monkeypatch):
    """No test may see the real cache, $CHAINRULE_DATA or /usr/share/datasets."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(sources, "SYSTEM_DATA_ROOT", tmp_path / "usr-share-datasets")


# --- small generated datasets -----------------------------------------------------------------

FILE_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


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


# --- registry ---------------------------------------------------------------------------------


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


def test_mnist_test_labels_digest_matches_the_local_official_copy():
    path = require_dir(SHARED_DATA / "mnist") / "t10k-labels-idx1-ubyte.gz"
    assert file_digest(path) == MNIST.test_labels.sha256
    assert path.stat().st_size == MNIST.test_labels.size


@pytest.mark.parametrize(
    ("key", "mtime"), [("test_labels", 1504176627), ("train_labels", 1504176606)]
)
def test_fashion_mnist_digests_match_the_debian_copy_with_its_upstream_gzip_header(key, mtime):
    """Debian's files are the upstream downloads with the gzip header's name and time dropped.

    Putting the upstream header back (FNAME flag, original name, original mtime) must give the
    official bytes, and so the registry's size and SHA-256: this checks the registry against
    real data without a network.
    """
    remote = getattr(FASHION_MNIST, key)
    local = require_dir(SHARED_DATA / "fashion-mnist") / remote.name
    body = local.read_bytes()[10:]  # deflate stream + trailer, after the 10-byte gzip header
    name = remote.name.removesuffix(".gz").encode() + b"\0"
    upstream = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + b"\x00\x03" + name + body
    assert len(upstream) == remote.size
    assert hashlib.sha256(upstream).hexdigest() == remote.sha256
    assert hashlib.md5(upstream).hexdigest() == remote.md5


# --- local lookup -----------------------------------------------------------------------------


def test_lookup_order_data_dir_then_env_then_cache_then_system(tmp_path, monkeypatch):
    info = tiny_info()
    # Each place holds a test split of a different size, so we can tell which one was used.
    explicit = write_split_files(tmp_path / "explicit" / "tiny", tiny_arrays(n_test=1))
    env = write_split_files(tmp_path / "env" / "tiny", tiny_arrays(n_test=2))
    cache = write_split_files(tmp_path / "xdg-cache" / "chainrule" / "tiny", tiny_arrays(n_test=3))
    system = write_split_files(tmp_path / "usr-share-datasets" / "tiny", tiny_arrays(n_test=4))
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))

    def used_directory(**kwargs) -> Path:
        return locate(info, splits="test", **kwargs)["test"].images.parent

    assert used_directory(data_dir=tmp_path / "explicit") == explicit
    assert used_directory() == env
    monkeypatch.delenv("CHAINRULE_DATA")
    assert used_directory() == cache
    for path in cache.iterdir():
        path.unlink()
    assert used_directory() == system
    assert len(load_dataset(info, download=False, splits="test").y_test) == 4


def test_cache_defaults_to_home_when_xdg_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert sources.user_cache_root() == tmp_path / "home" / ".cache" / "chainrule"


def test_files_directly_in_data_dir_and_unzipped_names(tmp_path):
    arrays = tiny_arrays()
    write_split_files(tmp_path / "flat", arrays, gz=False)
    data = load_dataset(tiny_info(), data_dir=tmp_path / "flat", download=False)
    np.testing.assert_array_equal(data.x_train, arrays["train_images"])
    assert data.y_test.dtype == np.int64


def test_dotted_file_names_left_by_unzip_tools(tmp_path):
    arrays = tiny_arrays()
    folder = tmp_path / "dotted"
    folder.mkdir()
    idx.write_idx(folder / "t10k-images.idx3-ubyte", arrays["test_images"])
    idx.write_idx(folder / "t10k-labels.idx1-ubyte", arrays["test_labels"])
    images, labels = load_split(tiny_info(), "test", data_dir=folder, download=False)
    np.testing.assert_array_equal(images, arrays["test_images"])
    np.testing.assert_array_equal(labels, arrays["test_labels"])


def test_splits_can_come_from_different_places(tmp_path):
    only_test = {k: v for k, v in tiny_arrays().items() if k.startswith("test")}
    only_train = {k: v for k, v in tiny_arrays().items() if k.startswith("train")}
    write_split_files(tmp_path / "data" / "tiny", only_test)
    write_split_files(tmp_path / "usr-share-datasets" / "tiny", only_train)
    found = locate(tiny_info(), data_dir=tmp_path / "data")
    assert found["test"].images.parent == tmp_path / "data" / "tiny"
    assert found["train"].images.parent == tmp_path / "usr-share-datasets" / "tiny"


def test_missing_split_names_files_and_places(tmp_path):
    only_test = {k: v for k, v in tiny_arrays().items() if k.startswith("test")}
    write_split_files(tmp_path / "data", only_test)
    assert len(load_split(tiny_info(), "test", data_dir=tmp_path / "data")[1]) == 10
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset(tiny_info(), data_dir=tmp_path / "data", download=False)
    assert isinstance(error.value, FileNotFoundError)
    message = str(error.value)
    assert "split 'train'" in message
    assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "data" / "tiny") in message
    assert str(tmp_path / "xdg-cache" / "chainrule" / "tiny") in message
    assert str(tmp_path / "usr-share-datasets" / "tiny") in message
    assert "--data-dir DIR" in message and "CHAINRULE_DATA=DIR" in message


def test_corrupt_local_file_is_reported_by_name(tmp_path):
    folder = write_split_files(tmp_path / "data", tiny_arrays())
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not an idx file at all")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz"):
        load_dataset(tiny_info(), data_dir=folder, download=False)


def test_image_and_label_counts_must_agree(tmp_path):
    arrays = tiny_arrays()
    arrays["test_labels"] = arrays["test_labels"][:7]
    folder = write_split_files(tmp_path / "data", arrays)
    with pytest.raises(ValueError, match="holds 10 images but t10k-labels-idx1-ubyte.gz holds 7"):
        locate(tiny_info(), data_dir=folder)


def test_swapped_images_and_labels_are_caught(tmp_path):
    arrays = tiny_arrays()
    folder = tmp_path / "data"
    folder.mkdir()
    idx.write_idx(folder / "t10k-images-idx3-ubyte.gz", arrays["test_labels"])
    idx.write_idx(folder / "t10k-labels-idx1-ubyte.gz", arrays["test_images"])
    with pytest.raises(ValueError, match="expected 3 dimensions"):
        locate(tiny_info(), data_dir=folder, splits="test")


def test_real_mnist_test_split_loads_without_the_train_split():
    data_root = require_dir(SHARED_DATA)
    images, labels = load_split("mnist", "test", data_dir=data_root, download=False)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_dataset("mnist", data_dir=data_root, download=False)


def test_real_fashion_mnist_loads_completely():
    data = load_dataset("fashion-mnist", data_dir=require_dir(SHARED_DATA), download=False)
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.class_names[9] == "Ankle boot"


def test_custom_directory_and_file_pairs(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (6, 16, 16), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2], dtype=np.uint8)
    idx.write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    idx.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    data = load_idx_directory(tmp_path, name="shapes", class_names=["circle", "square", "star"])
    assert data.x_train is None and data.x_test.shape == (6, 16, 16)
    assert data.class_names == ("circle", "square", "star")
    assert load_idx_directory(tmp_path).class_names == ("0", "1", "2")
    with pytest.raises(ValueError, match="label 2 found but only 2 class names"):
        load_idx_directory(tmp_path, class_names=["a", "b"])
    idx.write_idx(tmp_path / "my-pictures.idx", images)
    idx.write_idx(tmp_path / "my-answers.idx", labels)
    x, y = load_idx_pair(tmp_path / "my-pictures.idx", tmp_path / "my-answers.idx")
    np.testing.assert_array_equal(x, images)
    assert y.dtype == np.int64
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError, match="no split"):
        load_idx_directory(empty)


# --- downloads against a loopback HTTP server --------------------------------------------------


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` under /good/, corrupted under /corrupt/, half under /short/."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        _, mode, name = self.path.split("/", 2)
        body = self.server.files.get(name)
        if body is None or mode not in ("good", "corrupt", "short"):
            self.send_error(404)
            return
        if mode == "corrupt":
            body = bytes(byte ^ 0x5A for byte in body)  # same length, wrong bytes
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "short":
            # Promise the whole file, send half, hang up: an interrupted download.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # keep test output clean
        pass


@pytest.fixture
def mirror():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    server.daemon_threads = True
    server.files = {}
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def dead_mirror() -> str:
    """A loopback address where nothing listens: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftover_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def test_download_success_then_cached(tmp_path, mirror):
    arrays = tiny_arrays()
    mirror.files = gz_payloads(arrays)
    info = info_for_payloads(mirror.files)
    cache = tmp_path / "cache"
    found = fetch(info, cache_dir=cache, mirrors=[f"{mirror.base}/good/"], progress=False)
    assert set(found) == {"train", "test"}
    assert leftover_files(cache) == sorted(mirror.files)  # no temporary files remain
    for name, body in mirror.files.items():
        assert (cache / name).read_bytes() == body
    data = load_dataset(info, cache_dir=cache, mirrors=[f"{mirror.base}/good/"], progress=False)
    np.testing.assert_array_equal(data.x_test, arrays["test_images"])
    assert len(mirror.requests) == 4  # the second load used the cache


def test_download_through_load_dataset_into_the_user_cache(tmp_path, mirror):
    mirror.files = gz_payloads(tiny_arrays())
    info = info_for_payloads(mirror.files, use_md5=True)  # md5-only entries verify too
    data = load_dataset(info, splits="test", mirrors=[f"{mirror.base}/good"], progress=True)
    assert data.x_test.shape == (10, 28, 28)
    cache = tmp_path / "xdg-cache" / "chainrule" / "tiny"
    assert leftover_files(cache) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_corrupt_download_is_rejected_and_the_next_mirror_used(tmp_path, mirror):
    mirror.files = gz_payloads(tiny_arrays())
    info = info_for_payloads(mirror.files)
    cache = tmp_path / "cache"
    mirrors = [f"{mirror.base}/corrupt/", f"{mirror.base}/good/"]
    fetch(info, cache_dir=cache, mirrors=mirrors, splits="test", progress=False)
    assert mirror.requests == [
        "/corrupt/t10k-images-idx3-ubyte.gz",
        "/good/t10k-images-idx3-ubyte.gz",
        "/corrupt/t10k-labels-idx1-ubyte.gz",
        "/good/t10k-labels-idx1-ubyte.gz",
    ]
    for name in leftover_files(cache):
        assert (cache / name).read_bytes() == mirror.files[name]


def test_corrupt_download_alone_fails_naming_file_digests_and_mirror(tmp_path, mirror):
    mirror.files = gz_payloads(tiny_arrays())
    info = info_for_payloads(mirror.files)
    cache = tmp_path / "cache"
    with pytest.raises(DatasetNotFoundError) as error:
        fetch(info, cache_dir=cache, mirrors=[f"{mirror.base}/corrupt/"], progress=False)
    message = str(error.value)
    name = "train-images-idx3-ubyte.gz"
    wrong = bytes(byte ^ 0x5A for byte in mirror.files[name])
    assert f"{mirror.base}/corrupt/{name}" in message
    assert f"expected {info.train_images.sha256}" in message
    assert f"got {hashlib.sha256(wrong).hexdigest()}" in message
    assert leftover_files(cache) == []  # nothing kept, not even a temporary file


def test_interrupted_download_leaves_no_partial_file(tmp_path, mirror):
    mirror.files = gz_payloads(tiny_arrays())
    info = info_for_payloads(mirror.files)
    cache = tmp_path / "cache"
    with pytest.raises(DatasetNotFoundError) as error:
        fetch(info, cache_dir=cache, mirrors=[f"{mirror.base}/short/"], progress=False)
    size = info.train_images.size
    assert f"connection closed after {size // 2:,} of {size:,} bytes" in str(error.value)
    assert leftover_files(cache) == []
    # The same download succeeds from a healthy mirror afterwards.
    mirrors = [f"{mirror.base}/short/", f"{mirror.base}/good/"]
    fetch(info, cache_dir=cache, mirrors=mirrors, progress=False)
    assert leftover_files(cache) == sorted(mirror.files)


def test_all_mirrors_down_gives_one_clear_offline_error(tmp_path, mirror):
    mirror.files = gz_payloads(tiny_arrays())
    info = replace(
        info_for_payloads(mirror.files), mirrors=(dead_mirror(), f"{mirror.base}/nothing-here/")
    )
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset(info, progress=False)
    message = str(error.value)
    assert "was not found on this machine and could not be downloaded" in message
    for remote in info.files():
        assert remote.name in message  # the four files to put in place
    assert str(tmp_path / "xdg-cache" / "chainrule" / "tiny") in message
    assert "--data-dir DIR" in message and "CHAINRULE_DATA=DIR" in message
    assert "Connection refused" in message and "HTTP 404" in message
    assert error.value.download_failures  # the attempts, for programs that want them
    assert leftover_files(tmp_path / "xdg-cache" / "chainrule" / "tiny") == []
