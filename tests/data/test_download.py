"""The real download code against a loopback HTTP server: verified, atomic, mirror by mirror,
and one clear error when every mirror fails."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tiny_datasets import gz_payloads, info_for_payloads, tiny_arrays

from chainrule.data.download import fetch
from chainrule.data.load import load_dataset
from chainrule.data.lookup import DatasetNotFoundError

pytestmark = pytest.mark.usefixtures("isolated_locations")


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
